export * from "./graph.ts";
export * from "./images.ts";
export * from "./layers.ts";
export * from "./layout.ts";
export * from "./maintenance.ts";
