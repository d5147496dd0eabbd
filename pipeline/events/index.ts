/** The shared event model: import everything event-related from here. */
export * from "./model";
export * from "./generator";
export * from "./schema";
