const { startFerretDBOnFreePort } = require('./dist/src/local/ferretdb');
const { MongoClient } = require('mongodb');
const { startTcpProxy, hostPort } = require('./dist/test/support/tcp-proxy');
const fs=require('fs'),os=require('os'),path=require('path');
(async()=>{
  const dir=fs.mkdtempSync(path.join(os.tmpdir(),'rc-'));
  const f=await startFerretDBOnFreePort({dataDir:dir});
  const {host,port}=hostPort(f.uri); const proxy=await startTcpProxy(host,port);
  const c=new MongoClient(`mongodb://${proxy.address}/?directConnection=true`,{serverSelectionTimeoutMS:3000,connectTimeoutMS:3000});
  await c.connect();
  await c.db('x').command({ping:1});
  const server=[...c.topology.s.servers.values()][0];
  const monitor=server.monitor;
  // wait for the monitor to have its connection
  while(!monitor.connection) await new Promise(r=>setTimeout(r,50));
  const pooled=[...server.pool.connections ?? []];
  console.log('monitor conn', !!monitor.connection, 'state', monitor.s.state);
  // The socket dies and, before Node emits its 'close', the monitor is asked for a check (what an operation failing on a reset does).
  await new Promise(r=>setTimeout(r,1000));
  monitor.connection.socket.destroy();
  monitor.requestCheck();
  console.log('state right after', monitor.s.state);
  proxy.block(); await c.db('x').command({ping:1}).catch(e=>console.log('during block', e.name)); proxy.unblock();
  console.log('state after', monitor.s.state);
  const t=Date.now(); let ok=false,last;
  // also force server unknown by a pool failure: destroy pool sockets
  while(Date.now()-t<20000){ try{ await Promise.race([c.db('x').command({ping:1}), new Promise((_,r)=>setTimeout(()=>r(new Error('hung')),4000))]); ok=true; break;}catch(e){last=e.name+': '+e.message} await new Promise(r=>setTimeout(r,500)); }
  console.log(ok?`ok after ${Date.now()-t}`:`stuck: ${last}`, 'monitor state', monitor.s.state);
  await f.stop(); process.exit(0);
})().catch(e=>{console.error(e);process.exit(1)});
