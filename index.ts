import { program } from "./components/program";

// Config is validated before anything is registered: a bad key fails the preview with a list of problems.
const { outputs } = program();

export const objectStore = outputs.objectStore;
export const objectStoreCredentials = outputs.objectStoreCredentials;
export const objectStoreConsoleLogin = outputs.objectStoreConsoleLogin;
export const kafka = outputs.kafka;
export const kafkaUiLogin = outputs.kafkaUiLogin;
export const flink = outputs.flink;
export const druid = outputs.druid;
export const superset = outputs.superset;
export const supersetLogin = outputs.supersetLogin;
export const pipeline = outputs.pipeline;
export const memoryMiB = outputs.memoryMiB;
export const kubernetes = outputs.kubernetes;
