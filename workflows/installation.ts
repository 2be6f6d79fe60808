// The installation workflow's public entry; its code is in ./installation/ (see docs/installation-workflow.md).
export { installationWorkflow, type InstallationInput } from './installation/workflow';
