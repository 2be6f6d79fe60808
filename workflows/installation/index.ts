export { installationWorkflow, type InstallationInput } from './workflow';
