export { installationWorkflow } from './installation';
export { reconcileWorkflow } from './reconcile';
