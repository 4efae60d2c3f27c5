/**
 * `npm run lint:deps` (part of `npm test`): folders of src/ depend one way. The graph is
 * api, callbacks, media → tasks → providers → core, and api, tasks → index-db → core, and
 * api → submit → tasks (see the README's Architecture section); any cycle between folders, or
 * between modules, fails.
 */
module.exports = {
  forbidden: [
    {
      name: "no-folder-cycles",
      comment: "folders of src/ must not import each other in both directions",
      severity: "error",
      scope: "folder",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "no-module-cycles",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "core-is-the-bottom",
      comment: "core/ holds what every folder needs; it needs none of them",
      severity: "error",
      from: { path: "^src/core/" },
      to: { path: "^src/(api|callbacks|media|tasks|providers|index-db|submit)/" },
    },
    {
      name: "index-db-knows-only-core",
      comment: "the D1 index's schema and queries: written by tasks/, read by api/, needing neither",
      severity: "error",
      from: { path: "^src/index-db/" },
      to: { path: "^src/(api|callbacks|media|tasks|providers|submit)/" },
    },
    {
      name: "providers-know-no-tasks",
      comment: "the providers' wire formats are below the task model",
      severity: "error",
      from: { path: "^src/providers/" },
      to: { path: "^src/(api|callbacks|media|tasks|submit)/" },
    },
    {
      name: "submit-knows-no-edge",
      comment: "submitting (the submission object, the forwarding) is below the HTTP edge that calls it",
      severity: "error",
      from: { path: "^src/submit/" },
      to: { path: "^src/(api|callbacks|media|events)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(test|tools|bench|support)/" },
    parser: "swc",
    tsConfig: { fileName: "tsconfig.json" },
  },
};
