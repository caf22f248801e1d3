export type { ConformanceOptions, OpenAdapter, OpenContext, ResolvedSettings } from './options.js';
export { DEFAULT_RUNS, resolveSettings } from './options.js';
export type { Check, CheckReport, Group, Requirement, RequirementInput } from './group.js';
export { all, needs, needsChildren, registerGroups, runGroups } from './group.js';
export { Scope, SuiteRun, tickingClock } from './context.js';
export { PropertyFailure, checkProperty } from './property.js';
export { Violation } from './assert.js';
export * from './groups/index.js';
export * from './run-conformance.js';
