// Validates Kubernetes objects against the API schemas of `kubernetes-models` (and KEDA's).
//   node deploy/k8s/validate.mjs <file.yaml>...   YAML files, every document
//   node deploy/k8s/validate.mjs < objects.json   a JSON array of objects on stdin
// Prints one JSON report [{ source, kind, name, errors }] and exits 1 when any object fails.
// Kustomization files and `$patch` documents are skipped: they are kustomize's input, not
// API objects.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/** apiVersion → module prefix; `<prefix>/<Kind>` exports the model class. */
function modulePrefix(apiVersion) {
  if (apiVersion === 'v1') return 'kubernetes-models/v1';
  if (apiVersion.startsWith('keda.sh/')) return `@kubernetes-models/keda/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

async function validate(object) {
  const { apiVersion, kind } = object ?? {};
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return ['apiVersion and kind are required'];
  let Model;
  try {
    Model = (await import(`${modulePrefix(apiVersion)}/${kind}`))[kind];
  } catch {
    Model = undefined;
  }
  if (typeof Model !== 'function') return [`no schema known for ${apiVersion} ${kind}`];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}

function readInput(files) {
  if (files.length === 0) {
    const objects = JSON.parse(readFileSync(0, 'utf8'));
    return objects.map((object, index) => ({ source: `stdin[${index}]`, object }));
  }
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8'))
      .map((doc, index) => ({ source: `${file}#${index}`, object: doc.toJS() }))
      .filter(({ object }) => object !== null && object.kind !== 'Kustomization' && !('$patch' in object)),
  );
}

const report = [];
for (const { source, object } of readInput(process.argv.slice(2))) {
  report.push({ source, kind: object?.kind, name: object?.metadata?.name, errors: await validate(object) });
}
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exitCode = report.some((entry) => entry.errors.length > 0) ? 1 : 0;
