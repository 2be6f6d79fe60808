export { installationWorkflow } from './installation';
