/** The image model: media types, schemas and types, parsing from raw bytes, platforms. */
export * from "./media-types.ts";
export * from "./parse.ts";
export * from "./platform.ts";
export * from "./schemas.ts";
