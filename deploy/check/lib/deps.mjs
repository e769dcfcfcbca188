// The checks' npm packages, installed by `npm ci` from this directory's
// package-lock.json into the build tree (deploy/CMakeLists.txt), found through
// MEND_DEPLOY_NODE_MODULES (the node_modules directory): the sources stay
// here, the packages there.
import path from "node:path";
import {createRequire} from "node:module";

const modules = process.env.MEND_DEPLOY_NODE_MODULES;
if (!modules) {
  console.error("MEND_DEPLOY_NODE_MODULES is not set: it names the node_modules " +
                "directory that `npm ci` made from deploy/check/package-lock.json");
  process.exit(2);
}

// require() from inside the node_modules directory.
export const requireDep = createRequire(path.join(path.resolve(modules), "noop.js"));
export const yaml = requireDep("js-yaml");
