import { writeWorkflowBundle } from '../worker/workflow-bundle';

/** Part of `npm run build`: the workflow bundle the worker loads instead of bundling at every start. */
writeWorkflowBundle().then(
  (file) => console.log(`workflow bundle written to ${file}`),
  (err: unknown) => {
    console.error('bundling the workflows failed:', err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
