// Long-lived helper: one JSON request per stdin line, one JSON answer per stdout line.
// Request:  {"id": n, "simulation": <iam-simulate Simulation>}
// Answer:   {"id": n, "decision": "Allowed"|"ExplicitlyDenied"|"ImplicitlyDenied"|"Error", ...}
//
// Policies and action names are validated by iam-simulate's public runSimulation. The decision
// comes from its evaluation core (`authorize`), called with every context key we give: the
// public entry point drops keys whose variable part is separated by ':' rather than '/', such
// as kms:EncryptionContext:aws:states:stateMachineArn, which this project must evaluate.
'use strict';

const path = require('node:path');
const readline = require('node:readline');

// The package exports only its index (dist/cjs/index.js): its root is three levels up.
const simulateIndex = require.resolve('@cloud-copilot/iam-simulate', { paths: [process.cwd(), __dirname] });
const simulatePackage = path.resolve(path.dirname(simulateIndex), '..', '..');
const { runSimulation } = require(simulateIndex);
const { loadPolicy } = require(require.resolve('@cloud-copilot/iam-policy', { paths: [simulatePackage] }));
const { authorize } = require(path.join(simulatePackage, 'dist/cjs/core_engine/CoreSimulatorEngine.js'));
const { AwsRequestImpl } = require(path.join(simulatePackage, 'dist/cjs/request/request.js'));
const { RequestContextImpl } = require(path.join(simulatePackage, 'dist/cjs/requestContext.js'));
const { DiscoveryContextKeyConstraints } = require(
  path.join(simulatePackage, 'dist/cjs/context_keys/discoveryContextKeyConstraints.js'));

function statementsOf(analysis, kind) {
  return (analysis?.[kind] || []).map((s) => ({ policy: s.policyId ?? null, statement: s.statement }));
}

function decide(simulation) {
  const request = simulation.request;
  const identityPolicies = simulation.identityPolicies.map((p) => loadPolicy(p.policy, { name: p.name }));
  const resourcePolicy = simulation.resourcePolicy
    ? loadPolicy(simulation.resourcePolicy, { name: simulation.resourcePolicyName || 'resource policy' })
    : undefined;
  const analysis = authorize({
    request: new AwsRequestImpl(request.principal, request.resource, request.action,
      new RequestContextImpl(request.contextVariables)),
    sessionPolicy: undefined,
    identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy,
    permissionBoundaries: simulation.permissionBoundaryPolicies
      ? simulation.permissionBoundaryPolicies.map((p) => loadPolicy(p.policy, { name: p.name }))
      : undefined,
    vpcEndpointPolicies: undefined,
    simulationParameters: {
      simulationMode: 'Strict',
      discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]),
    },
    serviceSettings: { s3: {} },
  });
  return {
    decision: analysis.result,
    identity: {
      result: analysis.identityAnalysis?.result ?? null,
      allows: statementsOf(analysis.identityAnalysis, 'allowStatements'),
      denies: statementsOf(analysis.identityAnalysis, 'denyStatements'),
    },
    boundary: analysis.permissionBoundaryAnalysis?.result ?? null,
    resource: {
      result: analysis.resourceAnalysis?.result ?? null,
      allows: statementsOf(analysis.resourceAnalysis, 'allowStatements'),
      denies: statementsOf(analysis.resourceAnalysis, 'denyStatements'),
    },
  };
}

async function answer(message) {
  const simulation = message.simulation;
  const validated = await runSimulation({
    request: simulation.request,
    identityPolicies: simulation.identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: simulation.resourcePolicy,
    permissionBoundaryPolicies: simulation.permissionBoundaryPolicies,
  }, {});
  if (validated.resultType === 'error') {
    return { id: message.id, decision: 'Error', errors: validated.errors };
  }
  return { id: message.id, ...decide(simulation) };
}

const lines = readline.createInterface({ input: process.stdin, terminal: false });
let queue = Promise.resolve();
lines.on('line', (line) => {
  if (!line.trim()) return;
  queue = queue.then(async () => {
    let message;
    try {
      message = JSON.parse(line);
      process.stdout.write(JSON.stringify(await answer(message)) + '\n');
    } catch (error) {
      process.stdout.write(JSON.stringify({
        id: message ? message.id : null, decision: 'Error', errors: { message: String(error && error.stack || error) },
      }) + '\n');
    }
  });
});
