// Resolves `typescript` to the `typescript5` alias for imports made by openapi-typescript only
// (see openapi-types.ts).
export async function resolve(specifier, context, next) {
  if (specifier === "typescript" && context.parentURL?.includes("/node_modules/openapi-typescript/")) {
    return next("typescript5", context);
  }
  return next(specifier, context);
}
