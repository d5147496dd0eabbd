import { loadStackConfig } from "./components/config";
import { buildStack } from "./components/stack";

// Config is validated before anything is registered: a bad key fails the preview with a list of problems.
const { outputs } = buildStack(loadStackConfig());

export const objectStore = outputs.objectStore;
export const objectStoreCredentials = outputs.objectStoreCredentials;
export const objectStoreConsoleLogin = outputs.objectStoreConsoleLogin;
export const memoryMiB = outputs.memoryMiB;
