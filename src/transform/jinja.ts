/**
 * The project's template engine: one nunjucks Environment per project (no global state), the
 * project's macros as globals, and the dbt built-ins (`ref`, `source`, `config`, `is_incremental`,
 * `this`, `var`, `env_var`, `reject_if`) delegating to whichever render is in progress.
 */
import nunjucks from 'nunjucks';
import { DuckhouseError, ModelError } from '../errors.js';
import { PyDatetime } from './py-datetime.js';
import { didYouMean } from './suggest.js';

export const BUILTINS = ['ref', 'source', 'config', 'is_incremental', 'var', 'env_var', 'reject_if'] as const;
export type BuiltinName = (typeof BUILTINS)[number];
export type Kwargs = Record<string, unknown>;

/**
 * A relation a built-in gives a template (`this`, `ref()`, `source()`): its SQL text, which is what
 * the template sees (it outputs, compares and filters as text), and the `.schema`, `.name` and
 * `.identifier` that dbt's Relation also has, looked up by that text while it renders.
 */
export class TemplateRelation {
  constructor(
    readonly sql: string,
    readonly schema: string,
    readonly name: string,
  ) {}
}

/** What the built-ins do during one render: parse mode records, render mode resolves. */
export type Hooks = { readonly [K in BuiltinName]: (args: unknown[], kwargs: Kwargs) => unknown } & {
  readonly this: TemplateRelation;
  /** dbt's `{{ log('msg', info=True) }}`: where the message goes (nowhere when absent, as in parse mode). */
  readonly log?: (message: string, info: boolean) => void;
  /** dbt's `run_started_at`: the build's start (parse mode and renders without one: when the project was read). */
  readonly runStartedAt?: Date;
};

/** The relations given to the render in progress, by their SQL text. */
type Relations = ReadonlyMap<string, TemplateRelation>;
const NO_RELATIONS: Relations = new Map();

/** A compiled model, assertion or macro template. */
export interface CompiledTemplate {
  readonly template: nunjucks.Template;
  /** `model marts.orders (models/marts/orders.sql)`: prefixes every error. */
  readonly label: string;
}

/**
 * Runs `fn` with nunjucks' Jinja compatibility installed: `True`/`False`/`None`, Python's dict and
 * list methods (`.items()`, `.get()`, `.append()`…) and slices, as dbt models and macros use them.
 * It patches the nunjucks module, which the host application may share: installed only while our
 * (synchronous) compile or render runs, and uninstalled after, so nothing leaks. Nested calls
 * (an ephemeral rendered inside a render) restore what the outer call installed.
 */
function withJinjaCompat<T>(fn: () => T, relations: Relations = NO_RELATIONS): T {
  // @types/nunjucks says void; nunjucks returns its uninstaller.
  const uninstall = (nunjucks.installJinjaCompat as unknown as () => () => void)();
  const uninstallOurs = installJinjaSemantics(relations);
  try {
    return fn();
  } finally {
    uninstallOurs();
    uninstall();
  }
}

/** The parts of nunjucks' compiler that @types/nunjucks does not describe. */
interface AstNode {
  readonly lineno: number;
  readonly colno: number;
}
interface ForNode extends AstNode {
  name: AstNode;
  arr: AstNode;
  body: AstNode;
  else_: AstNode | null;
}
interface BinaryNode extends AstNode {
  left: AstNode;
  right: AstNode;
}
interface SetNode extends AstNode {
  targets: AstNode[];
  value: AstNode | null;
  body?: AstNode;
}
interface GroupNode extends AstNode {
  children: AstNode[];
}
interface InlineIfNode extends AstNode {
  cond: AstNode;
  body: AstNode;
  else_: AstNode | null;
}
/** A node of ours (see installJinjaSemantics): compiled by `compile<typename>`. */
interface OwnNode extends AstNode {
  typename: string;
  tmp: string;
  item?: AstNode;
  names?: string[];
}
interface CompilerPrototype {
  [compile: `compile${string}`]: unknown;
  _tmpid(): string;
  codebuf: string[];
  _emit(code: string): void;
  _emitLine(code: string): void;
  _compileExpression(node: AstNode, frame: unknown): void;
  compileFor(this: CompilerPrototype, node: ForNode, frame: unknown): void;
  compileOutput(this: CompilerPrototype, node: GroupNode, frame: unknown): void;
  compileSet(this: CompilerPrototype, node: SetNode, frame: unknown): void;
  compile(node: AstNode, frame: unknown): void;
  fail(message: string, lineno?: number, colno?: number): never;
  _compileMacro(this: CompilerPrototype, node: AstNode & { name?: { value?: unknown } }, frame?: unknown): string;
  compileAdd(this: CompilerPrototype, node: BinaryNode, frame: unknown): void;
  compileMod(this: CompilerPrototype, node: BinaryNode, frame: unknown): void;
  compileMul(this: CompilerPrototype, node: BinaryNode, frame: unknown): void;
  _emitLoopBindings(this: CompilerPrototype, node: AstNode, arr: string, i: string, len: string): void;
  compileConcat(this: CompilerPrototype, node: BinaryNode, frame: unknown): void;
  compileGroup(this: CompilerPrototype, node: GroupNode, frame: unknown): void;
  compileArray(this: CompilerPrototype, node: GroupNode, frame: unknown): void;
  compileFilter(this: CompilerPrototype, node: AstNode, frame: unknown): void;
  compileFunCall(this: CompilerPrototype, node: AstNode, frame: unknown): void;
  compileIf(this: CompilerPrototype, node: InlineIfNode, frame: unknown, async?: boolean): void;
  compileInlineIf(this: CompilerPrototype, node: InlineIfNode, frame: unknown): void;
  compileNot(this: CompilerPrototype, node: AstNode & { target: AstNode }, frame: unknown): void;
  compileOr(this: CompilerPrototype, node: BinaryNode, frame: unknown): void;
  compileAnd(this: CompilerPrototype, node: BinaryNode, frame: unknown): void;
  compileCompare(this: CompilerPrototype, node: AstNode & { expr: AstNode; ops: (AstNode & { type: string; expr: AstNode })[] }, frame: unknown): void;
}
type MemberLookup = (this: unknown, obj: unknown, key: unknown, ...rest: unknown[]) => unknown;
type SuppressValue = (value: unknown, autoescape: boolean) => unknown;
type MakeMacro = (argNames: string[], kwargNames: string[], func: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown;
/** The parts of nunjucks' parser that trailing commas need (see installJinjaSemantics). */
interface Token {
  type: string;
  value?: string;
  lineno: number;
  colno: number;
}
interface ParserState {
  tokens: object;
  dropLeadingWhitespace: boolean;
  peeked: Token | null;
  nextToken(): Token;
  peekToken(): Token;
  skip(type: string): boolean;
  fail(message: string, lineno?: number, colno?: number): never;
  parsePrimary(): AstNode;
  parseExpression(): AstNode;
  parseAggregate(this: ParserState): AstNode | null;
  parseStatement(this: ParserState): AstNode | null;
  parseSet(this: ParserState): AstNode;
  parseIs(this: ParserState): AstNode;
  parseCompare(): AstNode;
  skipSymbol(name: string): boolean;
  skipValue(type: string, value: string): boolean;
  advanceAfterBlockEnd(name?: string): void;
  parseUntilBlocks(...names: string[]): AstNode;
}
const internals = nunjucks as unknown as {
  lib: { TemplateError: new (message: string, lineno: number, colno: number) => Error };
  parser: { Parser: { prototype: ParserState } };
  lexer: Record<
    'TOKEN_LEFT_PAREN' | 'TOKEN_RIGHT_PAREN' | 'TOKEN_LEFT_BRACKET' | 'TOKEN_RIGHT_BRACKET' | 'TOKEN_LEFT_CURLY' | 'TOKEN_RIGHT_CURLY' | 'TOKEN_COMMA' | 'TOKEN_COLON' | 'TOKEN_OPERATOR' | 'TOKEN_BLOCK_END',
    string
  >;
  runtime: { memberLookup: MemberLookup; makeMacro: MakeMacro; suppressValue: SuppressValue; ensureDefined: (value: unknown, lineno: number, colno: number) => unknown };
  compiler: { Compiler: { prototype: CompilerPrototype } };
  nodes: {
    Array: new (lineno: number, colno: number, children: AstNode[]) => AstNode;
    Group: new (lineno: number, colno: number, children: AstNode[]) => AstNode;
    Dict: new (lineno: number, colno: number, children: AstNode[]) => AstNode;
    Pair: new (lineno: number, colno: number, key: AstNode, value: AstNode) => AstNode;
    LookupVal: abstract new (...args: never[]) => AstNode;
    TemplateData: abstract new (...args: never[]) => AstNode;
    InlineIf: abstract new (...args: never[]) => InlineIfNode;
    Literal: new (lineno: number, colno: number, value: unknown) => AstNode;
    If: new (lineno: number, colno: number, cond: AstNode, body: AstNode, else_: AstNode | null) => AstNode;
    For: new (lineno: number, colno: number, arr: AstNode, name: AstNode, body: AstNode, else_: AstNode | null) => ForNode;
    Filter: new (lineno: number, colno: number, name: AstNode, args: AstNode) => AstNode;
    Symbol: new (lineno: number, colno: number, value: string) => AstNode;
    NodeList: new (lineno: number, colno: number, children: AstNode[]) => AstNode;
    Node: abstract new (...args: never[]) => AstNode;
    Set: new (lineno: number, colno: number, targets: AstNode[]) => SetNode;
    Capture: new (lineno: number, colno: number, body: AstNode) => AstNode;
    Is: new (lineno: number, colno: number, left: AstNode, right: AstNode) => AstNode;
    Not: new (lineno: number, colno: number, target: AstNode) => AstNode;
    FunCall: new (lineno: number, colno: number, name: AstNode, args: AstNode) => AstNode;
    Macro: abstract new (...args: never[]) => AstNode;
  };
};

/**
 * Filters the patched compiler calls (see installJinjaSemantics), defined on each project's
 * Environment. The ':' keeps them out of a template's reach: a filter name in a template is a word.
 */
const ITERATE = 'duckhouse:iterate';
const ADD = 'duckhouse:add';
const MOD = 'duckhouse:mod';
const MUL = 'duckhouse:mul';
const CONCAT = 'duckhouse:concat';
const DEFINED = 'duckhouse:defined';
const TUPLE = 'duckhouse:tuple';
const UNPACK = 'duckhouse:unpack';
/** Python's truth of a value (see pyTruthy): what `if`, `not`, `and` and `or` test. */
const TRUTHY = 'duckhouse:truthy';
/** Python's comparisons (see pyCompare): `==` by value, chains pairwise. */
const COMPARE = 'duckhouse:compare';
/** The error a filter raised, given the filter's place unless it has one (see compileFilter). */
const AT = 'duckhouse:at';

/** Marks an array made from a tuple literal, so that it prints as a tuple. */
const IS_TUPLE = Symbol('duckhouse.tuple');

/** Python's repr() of what a template holds: how Jinja prints a list, tuple or dict. */
function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string' || value instanceof String) {
    const text = String(value);
    if (text.includes("'") && !text.includes('"')) return `"${text.replace(/\\/g, '\\\\')}"`;
    return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  }
  if (Array.isArray(value)) {
    const items = value.map(pythonRepr);
    if (!(IS_TUPLE in value)) return `[${items.join(', ')}]`;
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
  }
  if (isDict(value)) return `{${Object.entries(value).map(([k, v]) => `${pythonRepr(k)}: ${pythonRepr(v)}`).join(', ')}}`;
  return String(value);
}
const SETTABLE = 'duckhouse:settable';

/**
 * How Jinja names what a `{{ … }}` outputs, when it is a name (`nope`), an attribute or item of one
 * (`target.name`, `cols[0]`) or a call of one (`get_cols()`): undefined for anything else.
 */
function describeOutput(node: AstNode): string | undefined {
  const { Symbol: Name, LookupVal, FunCall, Literal, Filter } = internals.nodes;
  const is = (ctor: unknown, n: AstNode = node): boolean => n instanceof (ctor as abstract new () => unknown);
  if (is(Filter)) return undefined;
  if (is(Name)) return String((node as AstNode & { value: unknown }).value);
  if (is(LookupVal)) {
    const { target, val } = node as AstNode & { target: AstNode; val: AstNode };
    const base = describeOutput(target);
    if (base === undefined) return undefined;
    const key = is(Literal, val) ? (val as AstNode & { value: unknown }).value : undefined;
    return typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${base}.${key}` : typeof key === 'number' ? `${base}[${key}]` : `${base}[…]`;
  }
  if (is(FunCall)) {
    const base = describeOutput((node as AstNode & { name: AstNode }).name);
    return base === undefined ? undefined : `${base}(…)`;
  }
  return undefined;
}

/** The compiler's scope of names (nunjucks' Frame at compile time): name → JavaScript variable. */
interface CompileFrame {
  variables: Record<string, string | undefined>;
  lookup(name: string): string | undefined | null;
  set(name: string, id: string): void;
}

/**
 * The names `{% set %}` assigns in a loop's body, outside nested loops and macros (their own
 * scopes); attributes (`ns.x`) are left out: they change the namespace, not a name.
 */
function setNames(block: AstNode): string[] {
  const { Node, Set: SetTag, For, Macro, Symbol: Name } = internals.nodes;
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!(node instanceof Node) || node instanceof For || node instanceof Macro) return;
    if ((node as object) instanceof SetTag) {
      for (const target of (node as SetNode).targets) if (target instanceof Name) names.add(String((target as AstNode & { value: unknown }).value));
    }
    for (const value of Object.values(node)) walk(value);
  };
  walk(block);
  return [...names];
}

/** `name(args…)` as a call of one of our filters, where the compiler would have emitted `at`. */
function filterCall(name: string, at: AstNode, args: AstNode[]): AstNode {
  const { Filter, Symbol: Name, NodeList } = internals.nodes;
  return new Filter(at.lineno, at.colno, new Name(at.lineno, at.colno, name), new NodeList(at.lineno, at.colno, args));
}

/**
 * Where nunjucks' Jinja compatibility still differs from Jinja in ways dbt macros rely on, the
 * compiler is patched like installJinjaCompat patches it, for as long as it is installed: returns
 * the uninstaller.
 */
function installJinjaSemantics(relations: Relations): () => void {
  const proto = internals.compiler.Compiler.prototype;
  const { compileFunCall, _emitLoopBindings, compileFor, compileAdd, compileMod, compileMul, compileConcat, compileGroup, _compileMacro, compileOutput, compileSet, compileFilter } = proto;
  const { compileIf, compileInlineIf, compileNot, compileOr, compileAnd, compileCompare } = proto;
  proto.compileCompare = function (node, frame) {
    // Python's == and != (lists, tuples and dicts equal by value, '1' is not 1; JavaScript compared
    // objects by identity and text with numbers loosely) and chains (`3 > 2 > 1` is both, JavaScript
    // compared `true > 1`).
    const [first] = node.ops;
    if (node.ops.length === 1 && first && first.type !== '==' && first.type !== '!=') {
      compileCompare.call(this, node, frame);
      return;
    }
    const args = [node.expr, ...node.ops.flatMap((op) => [new nodes.Literal(op.lineno, op.colno, op.type), op.expr])];
    this.compileFilter(filterCall(COMPARE, node, args), frame);
  };
  // Python's truth where Jinja tests a value: an empty list or dict, and a macro's empty output,
  // are false (`{% if cols %}` over var('cols', []) ran its branch; JavaScript takes [] and {} for true).
  const truthy = (node: AstNode): AstNode => filterCall(TRUTHY, node, [node]);
  proto.compileIf = function (node, frame, async) {
    // An {% elif %} is an If in else_, compiled here in turn.
    compileIf.call(this, { ...node, cond: truthy(node.cond) } as InlineIfNode, frame, async);
  };
  proto.compileInlineIf = function (node, frame) {
    compileInlineIf.call(this, { ...node, cond: truthy(node.cond) } as InlineIfNode, frame);
  };
  proto.compileNot = function (node, frame) {
    compileNot.call(this, { ...node, target: truthy(node.target) }, frame);
  };
  // `a or b` and `a and b` give one of their operands, as in Python (`cols or ['*']`), the right one evaluated only when needed.
  const logical = (or: boolean) =>
    function (this: CompilerPrototype, node: BinaryNode, frame: unknown) {
      const left = this._tmpid();
      this._emit(`(function (${left}) { return env.getFilter(${JSON.stringify(TRUTHY)})(${left}) ? `);
      if (or) this._emit(left);
      else this._compileExpression(node.right, frame);
      this._emit(' : ');
      if (or) this._compileExpression(node.right, frame);
      else this._emit(left);
      this._emit('; })(');
      this._compileExpression(node.left, frame);
      this._emit(')');
    };
  proto.compileOr = logical(true);
  proto.compileAnd = logical(false);
  proto.compileFilter = function (node, frame) {
    // The filter's line goes with its errors ("filter not found: map" had none): a line variable,
    // as nunjucks keeps for calls, would be the model's when the filter is in a macro. Ours are
    // left alone: they report their own place.
    const own = String((node as AstNode & { name: { value?: unknown } }).name.value).startsWith('duckhouse:');
    if (!own) this._emit('(function () { try { return ');
    compileFilter.call(this, node, frame);
    if (!own) this._emit(`; } catch (e) { throw env.getFilter(${JSON.stringify(AT)})(e, ${node.lineno}, ${node.colno}); } })()`);
  };
  proto.compileFunCall = function (node, frame) {
    // A call that fails in a macro (`{{ nope(x) }}` on line 2 of a macro file) had the line of the
    // model's call of the macro, given as the macro file's: nunjucks keeps the line in a variable of
    // the template whose render caught the error. The call's own place goes with its error.
    this._emit('(function () { try { return ');
    compileFunCall.call(this, node, frame);
    this._emit(`; } catch (e) { throw env.getFilter(${JSON.stringify(AT)})(e, ${node.lineno}, ${node.colno}); } })()`);
  };
  proto.compileSet = function (node, frame) {
    // Jinja's `{% set ns.found = true %}` on a namespace(): nunjucks took `ns.found` for a name
    // and failed with "Cannot read properties of undefined (reading 'charAt')".
    const [target] = node.targets;
    if (node.targets.length > 1 && node.value && node.targets.every((t) => t instanceof nodes.Symbol)) {
      // Jinja's `{% set a, b = 1, 2 %}` unpacks the value; nunjucks set every name to all of it.
      const values = this._tmpid();
      this._emit(`var ${values} = `);
      this.compileFilter(filterCall(UNPACK, node.value, [node.value, ...[node.targets.length, node.lineno, node.colno].map((v) => new nodes.Literal(node.lineno, node.colno, v))]), frame);
      this._emitLine(';');
      node.targets.forEach((name, i) => {
        const value = Object.defineProperties(new nodes.Literal(node.lineno, node.colno, null), { typename: { value: 'DuckhouseKept' }, tmp: { value: `${values}[${i}]` } });
        const one = new nodes.Set(node.lineno, node.colno, [name]);
        one.value = value;
        compileSet.call(this, one, frame);
      });
      return;
    }
    if (!(target instanceof (nodes.LookupVal as abstract new () => unknown))) {
      compileSet.call(this, node, frame);
      return;
    }
    if (node.targets.length !== 1) this.fail('set: an attribute (ns.x) is set alone, not with other names', node.lineno, node.colno);
    const lookup = target as AstNode & { target: AstNode; val: AstNode };
    const holder = this._tmpid();
    this._emit(`var ${holder} = env.getFilter(${JSON.stringify(SETTABLE)}).call(context, `);
    this._compileExpression(lookup.target, frame);
    this._emitLine(`, ${node.lineno}, ${node.colno});`);
    this._emit(`${holder}[`);
    this._compileExpression(lookup.val, frame);
    this._emit('] = ');
    if (node.value) this._compileExpression(node.value, frame);
    else this.compile(node.body!, frame);
    this._emitLine(';');
  };
  proto.compileOutput = function (node, frame) {
    // `{{ nope }}` said "attempted to output null or undefined value": Jinja names what is undefined.
    node.children = node.children.map((child) => {
      if (child instanceof (nodes.TemplateData as abstract new () => unknown)) return child;
      const what = describeOutput(child);
      if (what === undefined) return child;
      const literal = (value: unknown) => new nodes.Literal(child.lineno, child.colno, value);
      return filterCall(DEFINED, child, [child, literal(what), literal(child.lineno), literal(child.colno)]);
    });
    compileOutput.call(this, node, frame);
  };
  proto._compileMacro = function (node, frame) {
    const start = this.codebuf.length;
    const id = _compileMacro.call(this, node, frame);
    // A macro left by `{{ return(x) }}` (a throw) must give back the frame it took, as its normal
    // end does: nunjucks' macro code keeps it in a variable its caller's code shares.
    const entry = this.codebuf.indexOf('var callerFrame = frame;\n', start);
    const end = this.codebuf.lastIndexOf('});\n');
    if (entry < 0 || end < entry) throw new Error('duckhouse: unexpected nunjucks macro code');
    this.codebuf.splice(end, 0, '} catch (e) { frame = callerFrame; throw e; }\n');
    this.codebuf.splice(entry + 1, 0, 'try {\n');
    // The macro's name, for the argument errors of makeMacro below (a {% call %} block's is caller).
    const name = typeof node.name?.value === 'string' ? node.name.value : 'caller';
    this._emitLine(`${id}[${JSON.stringify(MACRO_NAME)}] = ${JSON.stringify(name)};`);
    return id;
  };
  proto.compileGroup = function (node, frame) {
    // Jinja's tuple, `('stg_', 'int_')`: nunjucks emitted JavaScript's comma operator, the last item alone.
    // An array marked as a tuple, which prints as one: `in {{ ('a', 'b') }}` is `in ('a', 'b')`.
    if (node.children.length > 1) this.compileFilter(filterCall(TUPLE, node, [new nodes.Array(node.lineno, node.colno, node.children)]), frame);
    else compileGroup.call(this, node, frame);
  };
  const { nodes } = internals;
  proto.compileFor = function (node, frame) {
    // Jinja's loop filter, `for x in items if cond`: nunjucks parsed `items if cond` as an inline if
    // without else, which is '' when cond is false (and cond reads x, undefined there): the loop ran
    // zero times. As in Jinja, the items failing cond are left out first, so loop.last, loop.index
    // and {% else %} count only the items kept.
    if (node.arr instanceof nodes.InlineIf && node.arr.else_ === null) {
      const { cond, body: items } = node.arr;
      const tmp = this._tmpid();
      this._emitLine(`var ${tmp} = [];`);
      const collect: OwnNode = { typename: 'DuckhouseCollect', lineno: node.lineno, colno: node.colno, tmp, item: node.name };
      const at = (children: AstNode[]) => new internals.nodes.NodeList(node.lineno, node.colno, children);
      this.compileFor(new nodes.For(node.lineno, node.colno, items, node.name, at([new nodes.If(node.lineno, node.colno, cond, at([collect]), null)]), null), frame);
      // A Literal to the compiler's type checks, compiled as the JavaScript variable holding the kept items.
      const kept = Object.defineProperties(new nodes.Literal(node.lineno, node.colno, null), { typename: { value: 'DuckhouseKept' }, tmp: { value: tmp } });
      node.arr = kept;
    }
    // Jinja's `for k in d` iterates the dict's keys; nunjucks reads d.length and runs zero times
    // (and takes the {% else %}). The two-name form, `for k, v in d`, already iterates the entries.
    if (!(node.name instanceof internals.nodes.Array)) node.arr = filterCall(ITERATE, node.arr, [node.arr]);
    // Jinja's {% set %} inside a loop sets a name of the loop's body, which starts every iteration
    // from the value outside and is gone after the loop (hence namespace()); nunjucks changed the
    // variable outside the loop. Each name set in the body (or {% else %}) is bound at its start.
    for (const key of ['body', 'else_'] as const) {
      const block = node[key] as (AstNode & { children?: AstNode[] }) | null;
      const names = block ? setNames(block) : [];
      if (names.length === 0 || !block?.children) continue;
      const scope: OwnNode = { typename: 'DuckhouseScope', lineno: block.lineno, colno: block.colno, tmp: '', names };
      block.children = [scope, ...block.children];
    }
    compileFor.call(this, node, frame);
  };
  proto.compileDuckhouseScope = function (this: CompilerPrototype, node: OwnNode, frame: CompileFrame) {
    for (const name of node.names!) {
      if (frame.variables[name] !== undefined) continue;
      const key = JSON.stringify(name);
      const outer = frame.lookup(name);
      if (outer) {
        // A name the compiler holds in a JavaScript variable (an outer loop's, a macro argument).
        const id = this._tmpid();
        this._emitLine(`var ${id} = ${outer};`);
        this._emitLine(`frame.set(${key}, ${id});`);
        frame.set(name, id);
      } else {
        // From the frame outside the loop: this one holds what the previous iteration set.
        this._emitLine(`frame.set(${key}, runtime.contextOrFrameLookup(context, frame.parent, ${key}));`);
      }
    }
  };
  proto._emitLoopBindings = function (node, arr, i, len) {
    _emitLoopBindings.call(this, node, arr, i, len);
    // Jinja's loop.cycle('odd', 'even'), loop.previtem and loop.nextitem ("Unable to call loop[cycle]").
    this._emitLine(`frame.set("loop.cycle", function () { return arguments.length ? arguments[${i} % arguments.length] : undefined; });`);
    this._emitLine(`if (runtime.isArray(${arr})) { frame.set("loop.previtem", ${i} > 0 ? ${arr}[${i} - 1] : undefined); frame.set("loop.nextitem", ${i} < ${len} - 1 ? ${arr}[${i} + 1] : undefined); }`);
  };
  proto.compileDuckhouseCollect = function (this: CompilerPrototype, node: OwnNode, frame: unknown) {
    this._emit(`${node.tmp}.push(`);
    this._compileExpression(node.item!, frame);
    this._emitLine(');');
  };
  proto.compileDuckhouseKept = function (this: CompilerPrototype, node: OwnNode) {
    this._emit(node.tmp);
  };
  proto.compileMod = function (node, frame) {
    // Python's `'%.2f' % value` formats; JavaScript's % made it NaN.
    this.compileFilter(filterCall(MOD, node, [node.left, node.right, ...[node.lineno, node.colno].map((v) => new nodes.Literal(node.lineno, node.colno, v))]), frame);
  };
  proto.compileMul = function (node, frame) {
    // Python's `'-' * 20` repeats the text (and a list); JavaScript's * made it NaN.
    this.compileFilter(filterCall(MUL, node, [node.left, node.right]), frame);
  };
  proto.compileConcat = function (node, frame) {
    // `'a' ~ none ~ true` is 'aNoneTrue' in Jinja (Python's str()); JavaScript's text was 'anulltrue'.
    this.compileFilter(filterCall(CONCAT, node, [node.left, node.right]), frame);
  };
  proto.compileAdd = function (node, frame) {
    // Jinja's list + list is a new list; JavaScript's + glued their text ("store,skuprice").
    this.compileFilter(filterCall(ADD, node, [node.left, node.right]), frame);
  };
  const parser = internals.parser.Parser.prototype;
  const { parseAggregate, parseStatement, parseSet, parseIs, fail } = parser;
  parser.parseIs = function () {
    // nunjucks' parseIs, but a test takes one argument without parentheses, as in Jinja:
    // `x is divisibleby 3`, `x is sameas none`, `x is eq 'a'` were "expected variable end".
    const left = this.parseCompare();
    if (!this.skipSymbol('is')) return left;
    const not = this.skipSymbol('not');
    let test = this.parseCompare();
    const next = this.peekToken();
    const argument = ['string', 'int', 'float', 'boolean', 'none'].includes(next.type) || (next.type === 'symbol' && !['else', 'or', 'and', 'if', 'not', 'is', 'in'].includes(next.value!));
    if (test instanceof nodes.Symbol && argument) {
      test = new nodes.FunCall(test.lineno, test.colno, test, new nodes.NodeList(next.lineno, next.colno, [this.parsePrimary()]));
    }
    const node = new nodes.Is(left.lineno, left.colno, left, test);
    return not ? new nodes.Not(node.lineno, node.colno, node) : node;
  };
  parser.parseSet = function () {
    // nunjucks' parseSet, but `{% set a, b = 1, 2 %}` (a tuple without parentheses, as Jinja
    // reads it) was "expected block end in set statement".
    const { lexer } = internals;
    const tag = this.peekToken();
    if (!this.skipSymbol('set')) this.fail('parseSet: expected set', tag.lineno, tag.colno);
    const node = new nodes.Set(tag.lineno, tag.colno, []);
    for (let target = this.parsePrimary(); target; target = this.parsePrimary()) {
      node.targets.push(target);
      if (!this.skip(lexer.TOKEN_COMMA)) break;
    }
    if (this.skipValue(lexer.TOKEN_OPERATOR, '=')) {
      const first = this.parseExpression();
      const items = [first];
      let tuple = false;
      while (this.skip(lexer.TOKEN_COMMA)) {
        tuple = true;
        if (this.peekToken().type === lexer.TOKEN_BLOCK_END) break;
        items.push(this.parseExpression());
      }
      node.value = tuple ? filterCall(TUPLE, first, [new nodes.Array(first.lineno, first.colno, items)]) : first;
      this.advanceAfterBlockEnd(tag.value);
      return node;
    }
    const end = this.peekToken();
    if (!this.skip(lexer.TOKEN_BLOCK_END)) this.fail('parseSet: expected = or block end in set tag', tag.lineno, tag.colno);
    // `{% set x -%}`: the `-` strips the whitespace after the tag, as after any other tag (it was kept).
    if (end.value?.startsWith('-')) this.dropLeadingWhitespace = true;
    node.body = new nodes.Capture(tag.lineno, tag.colno, this.parseUntilBlocks('endset'));
    node.value = null;
    this.advanceAfterBlockEnd();
    return node;
  };
  // The tags being parsed, innermost last: a block never closed fails at the end of the file,
  // where nunjucks has no line to give; the error names the tag and the line it opened at.
  const open: Token[] = [];
  parser.parseStatement = function () {
    open.push(this.peekToken());
    try {
      return parseStatement.call(this);
    } finally {
      open.pop();
    }
  };
  parser.fail = function (message, lineno, colno) {
    const tag = open.at(-1);
    if (lineno === undefined && tag && /end of file/.test(message)) {
      return fail.call(this, `{% ${tag.value} %} is not closed: ${message}`, tag.lineno, tag.colno);
    }
    return fail.call(this, message, lineno, colno);
  };
  parser.parseAggregate = function () {
    // Jinja allows a trailing comma in a list, dict or tuple (`['a',\n 'b',\n]`, the style of
    // multi-line lists); nunjucks refused it. Its own parse (and the slices of installJinjaCompat)
    // read anything else, from the same place.
    const tokens = { ...this.tokens };
    const peeked = this.peeked;
    try {
      return parseWithTrailingComma(this);
    } catch {
      Object.assign(this.tokens, tokens);
      this.peeked = peeked;
      return parseAggregate.call(this);
    }
  };
  const { runtime } = internals;
  const { memberLookup, makeMacro, suppressValue, ensureDefined } = runtime;
  runtime.suppressValue = (value, autoescape) =>
    // A list, tuple or dict prints as Python prints it (`['a', 'b']`), not as JavaScript's text
    // (`a,b`); none, true and false as `None`, `True` and `False` (they printed '', 'true', 'false').
    suppressValue(Array.isArray(value) || isDict(value) || value === null || typeof value === 'boolean' ? pythonRepr(value) : value, autoescape);
  // `{{ none }}` prints None in Jinja; nunjucks refused to output it. Undefined is still an error.
  runtime.ensureDefined = (value, lineno, colno) => (value === null ? value : ensureDefined(value, lineno, colno));
  runtime.makeMacro = (argNames, kwargNames, func) => {
    const made = makeMacro(argNames, kwargNames, func);
    // Jinja refuses a call with an argument the macro does not have; nunjucks dropped it without a
    // word, so a typo (cents('p', scal=4)) ran the macro with its default.
    const checked = function (this: unknown, ...args: unknown[]): unknown {
      const name = (checked as unknown as Record<string, unknown>)[MACRO_NAME] ?? 'macro';
      const last = args.at(-1);
      const keywords = last !== null && typeof last === 'object' && Object.hasOwn(last, '__keywords') ? (last as Record<string, unknown>) : undefined;
      const positional = args.length - (keywords ? 1 : 0);
      const params = [...argNames, ...kwargNames];
      const unknown = Object.keys(keywords ?? {}).filter((k) => k !== '__keywords' && k !== 'caller' && !params.includes(k));
      const problem =
        positional > params.length
          ? `takes ${params.length} argument${params.length === 1 ? '' : 's'}, got ${positional}`
          : unknown.length > 0
            ? `has no argument ${unknown.map((k) => `${k}=`).join(', ')}${didYouMean(unknown[0]!, params)}`
            : undefined;
      if (problem !== undefined) {
        // The call is wrong, not the macro's body: the error is not "in macro <name>" (see inMacro).
        throw Object.defineProperty(new Error(`macro ${name}(${params.join(', ')}) ${problem}`), MACRO_OF_ERROR, { value: undefined });
      }
      try {
        return made.apply(this, args);
      } catch (error) {
        if (error instanceof MacroReturn) return error.value;
        throw error;
      }
    };
    return checked;
  };
  runtime.memberLookup = function (obj, key, ...rest) {
    // Jinja's dict.get(k) is None for a missing key; nunjucks' gives undefined, which `is none` is not.
    if (key === 'get' && rest.length <= 1 && isDict(obj)) {
      return (k: string, fallback: unknown = null) => (Object.hasOwn(obj, k) && obj[k] !== undefined ? obj[k] : fallback);
    }
    // Jinja's dict.items() gives (key, value) tuples: printed `('a', 1)`, where nunjucks' arrays printed `['a', 1]`.
    if (key === 'items' && rest.length === 0 && isDict(obj)) return () => pairs(obj);
    // Python's str methods, as dbt macros call them ('a_b'.replace('_', '-'), col.lower(), s.split()):
    // JavaScript's replace changes only the first match and split() does not split on whitespace.
    // Python's negative index, `cols[-1]`: the last item (nunjucks looked up a property "-1").
    // (Not a slice, `cols[-2:]`, which comes with its stop and step and was taken for cols[-2].)
    if (rest.length === 0 && typeof key === 'number' && key < 0 && Number.isInteger(key) && (Array.isArray(obj) || typeof obj === 'string')) {
      return obj.length + key >= 0 ? obj[obj.length + key] : undefined;
    }
    // A slice of a string is a string, as in Python ('abc'[1:] is 'bc'); installJinjaCompat gave a list of characters.
    if (rest.length === 2 && (typeof obj === 'string' || obj instanceof String)) {
      return (memberLookup.call(this, [...String(obj)], key, ...rest) as string[]).join('');
    }
    const method = typeof key === 'string' && Object.hasOwn(PYTHON_STR, key) ? PYTHON_STR[key] : undefined;
    if (method && (typeof obj === 'string' || obj instanceof String)) return (...args: unknown[]) => method(String(obj), ...args);
    // `this.schema`, `ref('x').name`: relations stay text (so `is string`, `==` and filters work on
    // them as before), their fields are found by that text.
    const relation = typeof obj === 'string' && rest.length <= 1 ? relations.get(obj) : undefined;
    if (relation && (key === 'schema' || key === 'name')) return relation[key];
    if (relation && key === 'identifier') return relation.name;
    return memberLookup.call(this, obj, key, ...rest);
  };
  return () => {
    delete proto.compileDuckhouseCollect;
    delete proto.compileDuckhouseKept;
    delete proto.compileDuckhouseScope;
    proto.compileFor = compileFor;
    proto.compileIf = compileIf;
    proto.compileCompare = compileCompare;
    proto.compileInlineIf = compileInlineIf;
    proto.compileNot = compileNot;
    proto.compileOr = compileOr;
    proto.compileAnd = compileAnd;
    proto.compileAdd = compileAdd;
    proto.compileMod = compileMod;
    proto.compileFunCall = compileFunCall;
    proto.compileMul = compileMul;
    proto._emitLoopBindings = _emitLoopBindings;
    proto.compileConcat = compileConcat;
    proto.compileGroup = compileGroup;
    parser.parseAggregate = parseAggregate;
    parser.parseStatement = parseStatement;
    parser.parseSet = parseSet;
    parser.parseIs = parseIs;
    parser.fail = fail;
    proto.compileOutput = compileOutput;
    proto.compileSet = compileSet;
    proto.compileFilter = compileFilter;
    proto._compileMacro = _compileMacro;
    runtime.makeMacro = makeMacro;
    runtime.suppressValue = suppressValue;
    runtime.ensureDefined = ensureDefined;
    runtime.memberLookup = memberLookup;
  };
}

/** Python's str() of what a template holds: `None`, `True`, a list as its repr. */
function pyStr(value: unknown): string {
  return typeof value === 'string' || value instanceof String ? String(value) : pythonRepr(value);
}

/** One conversion of Python's % formatting: `%(name)-08.2f`. */
const PERCENT_SPEC = /%(?:\(([^)]*)\))?([-+ 0#]*)(\*|\d+)?(?:\.(\*|\d+))?([diouxXeEfFgGcrsa%])/g;

/** Python's `format % values`: a tuple gives the values in order, a dict by name, anything else is one value. */
function percentFormat(format: string, values: unknown): string {
  const list = Array.isArray(values) && IS_TUPLE in values ? values : [values];
  let next = 0;
  const take = (): unknown => {
    if (next >= list.length) throw new Error(`not enough arguments for format string ${pythonRepr(format)}`);
    return list[next++];
  };
  let named = false;
  const out = format.replace(PERCENT_SPEC, (_, name: string | undefined, flags: string, width: string | undefined, precision: string | undefined, type: string) => {
    if (type === '%') return '%';
    const w = width === '*' ? Number(take()) : width === undefined ? undefined : Number(width);
    const p = precision === '*' ? Number(take()) : precision === undefined ? undefined : Number(precision);
    let value: unknown;
    if (name !== undefined) {
      named = true;
      if (!isDict(values)) throw new Error(`format ${pythonRepr(format)} requires a mapping`);
      if (!Object.hasOwn(values, name)) throw new Error(`format ${pythonRepr(format)}: key ${pythonRepr(name)} is missing`);
      value = values[name];
    } else {
      value = take();
    }
    const number = (): number => {
      const n = typeof value === 'boolean' ? Number(value) : value;
      if (typeof n !== 'number') throw new Error(`format ${pythonRepr(format)}: %${type} takes a number, not ${pythonRepr(value)}`);
      return n;
    };
    let text: string;
    let numeric = true;
    switch (type) {
      case 'd':
      case 'i':
      case 'u':
        text = String(Math.abs(Math.trunc(number())));
        break;
      case 'f':
      case 'F':
        text = Math.abs(number()).toFixed(p ?? 6);
        break;
      case 'e':
      case 'E': {
        text = Math.abs(number()).toExponential(p ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
        if (type === 'E') text = text.toUpperCase();
        break;
      }
      case 'g':
      case 'G': {
        const n = Math.abs(number());
        text = String(Number(n.toPrecision(p === 0 ? 1 : (p ?? 6))));
        if (type === 'G') text = text.toUpperCase();
        break;
      }
      case 'x':
      case 'X':
      case 'o': {
        text = Math.abs(Math.trunc(number())).toString(type === 'o' ? 8 : 16);
        if (flags.includes('#')) text = (type === 'o' ? '0o' : '0x') + text;
        if (type === 'X') text = text.toUpperCase();
        break;
      }
      case 'c':
        numeric = false;
        text = typeof value === 'number' ? String.fromCodePoint(value) : String(value);
        break;
      case 'r':
      case 'a':
        numeric = false;
        text = pythonRepr(value);
        break;
      default:
        numeric = false;
        text = pyStr(value);
        if (p !== undefined) text = text.slice(0, p);
    }
    let sign = '';
    if (numeric) {
      const n = number();
      sign = n < 0 || Object.is(n, -0) ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '';
      if (type !== 'f' && type !== 'F' && type !== 'e' && type !== 'E' && type !== 'g' && type !== 'G' && Math.trunc(n) === 0) sign = sign === '-' ? '' : sign;
    }
    const pad = Math.max(0, (w ?? 0) - sign.length - text.length);
    if (flags.includes('-')) return sign + text + ' '.repeat(pad);
    if (numeric && flags.includes('0')) return sign + '0'.repeat(pad) + text;
    return ' '.repeat(pad) + sign + text;
  });
  if (!named && next < list.length && !(isDict(values) && list.length === 1)) throw new Error(`not all arguments converted during string formatting (${pythonRepr(format)})`);
  return out;
}

/** dbt's `{{ return(x) }}`: leaves the macro, which gives x instead of its text (caught in makeMacro). */
class MacroReturn extends Error {
  constructor(readonly value: unknown) {
    super('return() is only allowed inside a macro');
  }
}

/** Where a macro made while our semantics are installed keeps its name. */
const MACRO_NAME = 'duckhouse:name';

/** Characters Python's strip() removes by default. */
const WHITESPACE = ' \t\n\r\x0b\x0c';

function stripSet(text: string, chars: unknown, start: boolean, end: boolean): string {
  const set = chars === undefined || chars === null ? WHITESPACE : String(chars);
  let i = 0;
  let j = text.length;
  if (start) while (i < j && set.includes(text[i]!)) i++;
  if (end) while (j > i && set.includes(text[j - 1]!)) j--;
  return text.slice(i, j);
}

/** `prefix` or a tuple (list) of prefixes, as Python's startswith/endswith take. */
function anyOf(value: unknown, test: (s: string) => boolean): boolean {
  return Array.isArray(value) ? value.some((v) => test(String(v))) : test(String(value));
}

/** Python's `str.split(sep=None, maxsplit=-1)`. */
function pySplit(text: string, sep?: unknown, maxsplit?: unknown): string[] {
  const max = typeof maxsplit === 'number' && maxsplit >= 0 ? maxsplit : Infinity;
  const out: string[] = [];
  if (sep === undefined || sep === null) {
    let rest = text.replace(/^[ \t\n\r\x0b\x0c]+/, '');
    while (rest !== '') {
      if (out.length >= max) {
        out.push(rest.replace(/[ \t\n\r\x0b\x0c]+$/, ''));
        return out;
      }
      const m = /[ \t\n\r\x0b\x0c]+/.exec(rest);
      if (!m) {
        out.push(rest);
        return out;
      }
      out.push(rest.slice(0, m.index));
      rest = rest.slice(m.index + m[0].length);
    }
    return out;
  }
  const s = String(sep);
  if (s === '') throw new Error('split(): empty separator');
  let rest = text;
  for (let at = rest.indexOf(s); at >= 0 && out.length < max; at = rest.indexOf(s)) {
    out.push(rest.slice(0, at));
    rest = rest.slice(at + s.length);
  }
  out.push(rest);
  return out;
}

/**
 * Python's str methods that dbt macros use, with Python's meaning where JavaScript has a method
 * of the same name that differs (`replace` changes every match, `split()` splits on whitespace).
 */
const PYTHON_STR: Record<string, (text: string, ...args: unknown[]) => unknown> = {
  lower: (t) => t.toLowerCase(),
  upper: (t) => t.toUpperCase(),
  strip: (t, chars) => stripSet(t, chars, true, true),
  lstrip: (t, chars) => stripSet(t, chars, true, false),
  rstrip: (t, chars) => stripSet(t, chars, false, true),
  startswith: (t, prefix) => anyOf(prefix, (p) => t.startsWith(p)),
  endswith: (t, suffix) => anyOf(suffix, (p) => t.endsWith(p)),
  replace: (t, old, replacement, count) => {
    const parts = pySplit(t, old, typeof count === 'number' && count >= 0 ? count : undefined);
    return parts.join(String(replacement));
  },
  split: (t, sep, maxsplit) => pySplit(t, sep, maxsplit),
  capitalize: (t) => t.charAt(0).toUpperCase() + t.slice(1).toLowerCase(),
  title: (t) => t.toLowerCase().replace(/(^|[^A-Za-z])([a-z])/g, (_, before: string, c: string) => before + c.toUpperCase()),
  count: (t, sub) => (String(sub) === '' ? t.length + 1 : pySplit(t, sub).length - 1),
  find: (t, sub) => t.indexOf(String(sub)),
  isdigit: (t) => /^[0-9]+$/.test(t),
  isalpha: (t) => /^[A-Za-z]+$/.test(t),
  isalnum: (t) => /^[A-Za-z0-9]+$/.test(t),
  islower: (t) => /[a-z]/.test(t) && t === t.toLowerCase(),
  isupper: (t) => /[A-Z]/.test(t) && t === t.toUpperCase(),
  join: (t, items) => (Array.isArray(items) ? items.map(String).join(t) : String(items)),
  format: (t, ...args) => strFormat(t, args),
};

/** One replacement field of Python's str.format: `{}`, `{0}`, `{name!r:>10.2f}`; `{{` and `}}` are braces. */
const FORMAT_FIELD = /\{\{|\}\}|\{([^{}:!]*)(?:!([rsa]))?(?::([^{}]*))?\}/g;
/** Python's format spec: [[fill]align][sign][0][width][,][.precision][type]. */
const FORMAT_SPEC = /^(?:(.)?([<>^=]))?([-+ ])?(0)?(\d+)?(,)?(?:\.(\d+))?([sdfFeEgG%xXob])?$/s;

/** Python's `'{} and {name}'.format(a, name=b)`, as dbt macros build SQL text. */
function strFormat(format: string, args: unknown[]): string {
  const last = args.at(-1);
  const kw = last !== null && typeof last === 'object' && Object.hasOwn(last, '__keywords') ? (args.pop() as Record<string, unknown>) : {};
  let auto = 0;
  return format.replace(FORMAT_FIELD, (whole, field: string | undefined, conversion: string | undefined, spec: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    let value: unknown;
    if (field === '' || field === undefined) {
      if (auto >= args.length) throw new Error(`format(): replacement index ${auto} out of range for ${args.length} arguments`);
      value = args[auto++];
    } else if (/^\d+$/.test(field)) {
      if (Number(field) >= args.length) throw new Error(`format(): replacement index ${field} out of range for ${args.length} arguments`);
      value = args[Number(field)];
    } else {
      if (!Object.hasOwn(kw, field) || field === '__keywords') throw new Error(`format(): no argument ${field}=`);
      value = kw[field];
    }
    if (conversion !== undefined) value = conversion === 's' ? pyStr(value) : pythonRepr(value);
    const m = FORMAT_SPEC.exec(spec ?? '');
    if (!m) throw new Error(`format(): invalid format spec '${spec}'`);
    const [, fill = ' ', align, sign = '-', zero, width, grouping, precision, type] = m;
    const numeric = typeof value === 'number' && type !== 's';
    let text: string;
    if (!numeric) {
      if (type !== undefined && type !== 's') throw new Error(`format(): '${type}' takes a number, not ${pythonRepr(value)}`);
      text = pyStr(value);
      if (precision !== undefined) text = text.slice(0, Number(precision));
    } else {
      const v = value as number;
      const n = Math.abs(v);
      const p = precision === undefined ? undefined : Number(precision);
      switch (type) {
        case 'f':
        case 'F':
          text = n.toFixed(p ?? 6);
          break;
        case '%':
          text = `${(n * 100).toFixed(p ?? 6)}`;
          break;
        case 'e':
        case 'E':
          text = n.toExponential(p ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
          if (type === 'E') text = text.toUpperCase();
          break;
        case 'd':
          if (!Number.isInteger(v)) throw new Error(`format(): 'd' takes an integer, not ${v}`);
          text = String(n);
          break;
        case 'x':
        case 'X':
        case 'o':
        case 'b':
          text = Math.trunc(n).toString(type === 'o' ? 8 : type === 'b' ? 2 : 16);
          if (type === 'X') text = text.toUpperCase();
          break;
        default:
          text = p === undefined ? String(n) : String(Number(n.toPrecision(p)));
      }
      if (grouping) text = text.replace(/^\d+/, (d) => d.replace(/\B(?=(\d{3})+$)/g, ','));
      if (type === '%') text += '%';
      text = (v < 0 || Object.is(v, -0) ? '-' : sign === '-' ? '' : sign) + text;
    }
    const w = width === undefined ? 0 : Number(width);
    if (text.length >= w) return text;
    const pad = w - text.length;
    const how = align ?? (zero && numeric ? '=' : numeric ? '>' : '<');
    const padChar = align === undefined && zero ? '0' : fill;
    if (how === '<') return text + padChar.repeat(pad);
    if (how === '>') return padChar.repeat(pad) + text;
    if (how === '^') return padChar.repeat(Math.floor(pad / 2)) + text + padChar.repeat(pad - Math.floor(pad / 2));
    const signed = /^[-+ ]/.test(text) ? 1 : 0;
    return text.slice(0, signed) + padChar.repeat(pad) + text.slice(signed);
  });
}

/** nunjucks' parseAggregate, taking a comma before the closing bracket; `(x,)` is a one-item tuple. */
function parseWithTrailingComma(p: ParserState): AstNode | null {
  const { lexer, nodes } = internals;
  const tok = p.nextToken();
  const kinds: Record<string, [string, 'group' | 'array' | 'dict']> = {
    [lexer.TOKEN_LEFT_PAREN]: [lexer.TOKEN_RIGHT_PAREN, 'group'],
    [lexer.TOKEN_LEFT_BRACKET]: [lexer.TOKEN_RIGHT_BRACKET, 'array'],
    [lexer.TOKEN_LEFT_CURLY]: [lexer.TOKEN_RIGHT_CURLY, 'dict'],
  };
  const kind = kinds[tok.type];
  if (!kind) return null;
  const [close, what] = kind;
  const children: AstNode[] = [];
  let trailing = false;
  for (;;) {
    if (p.peekToken().type === close) {
      p.nextToken();
      break;
    }
    if (children.length > 0) {
      if (!p.skip(lexer.TOKEN_COMMA)) p.fail('parseAggregate: expected comma after expression', tok.lineno, tok.colno);
      if (p.peekToken().type === close) {
        p.nextToken();
        trailing = true;
        break;
      }
    }
    if (what === 'dict') {
      const key = p.parsePrimary();
      if (!p.skip(lexer.TOKEN_COLON)) p.fail('parseAggregate: expected colon after dict key', tok.lineno, tok.colno);
      children.push(new nodes.Pair(key.lineno, key.colno, key, p.parseExpression()));
    } else {
      children.push(p.parseExpression());
    }
  }
  if (what === 'dict') return new nodes.Dict(tok.lineno, tok.colno, children);
  if (what === 'array') return new nodes.Array(tok.lineno, tok.colno, children);
  // `(x,)`: a tuple of one; compileGroup makes a group of several items a tuple.
  if (trailing && children.length === 1) return filterCall(TUPLE, tok, [new nodes.Array(tok.lineno, tok.colno, children)]);
  return new nodes.Group(tok.lineno, tok.colno, children);
}

/** `{% do list.append(x) %}`: evaluates an expression for its effect and outputs nothing (jinja2.ext.do, which dbt enables). */
class DoExtension implements nunjucks.Extension {
  readonly tags = ['do'];

  parse(
    parser: { nextToken(): AstNode & { value: string }; parseExpression(): AstNode; advanceAfterBlockEnd(name: string): void },
    nodes: {
      CallExtension: new (ext: object, method: string, args: AstNode) => AstNode;
      NodeList: new (lineno: number, colno: number, children: AstNode[]) => AstNode;
    },
  ): AstNode {
    const tag = parser.nextToken();
    const expression = parser.parseExpression();
    parser.advanceAfterBlockEnd(tag.value);
    return new nodes.CallExtension(this, 'run', new nodes.NodeList(tag.lineno, tag.colno, [expression]));
  }

  run(): string {
    return '';
  }
}

/** Python's `a == b`: lists, tuples and dicts by value, text is never a number, True is 1; none (or undefined) equals none. */
function pyEquals(a: unknown, b: unknown): boolean {
  if (a instanceof String) a = String(a);
  if (b instanceof String) b = String(b);
  if (a === undefined || a === null || b === undefined || b === null) return (a ?? null) === (b ?? null);
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && IS_TUPLE in a === IS_TUPLE in b && a.length === b.length && a.every((v, i) => pyEquals(v, b[i]));
  }
  if (isDict(a) || isDict(b)) {
    if (!isDict(a) || !isDict(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && pyEquals(a[k], b[k]));
  }
  const numeric = (v: unknown) => typeof v === 'number' || typeof v === 'boolean';
  if (numeric(a) && numeric(b)) return Number(a) === Number(b);
  return a === b;
}

/** A comparison of Jinja's, `a op b op c…` (ops between the operands), as Python chains it: each pair holds. */
function pyCompare(...items: unknown[]): boolean {
  for (let i = 1; i + 1 < items.length; i += 2) {
    const [left, op, right] = [items[i - 1], items[i] as string, items[i + 1]];
    const holds = (() => {
      switch (op) {
        case '==':
          return pyEquals(left, right);
        case '!=':
          return !pyEquals(left, right);
        case '===':
          return left === right;
        case '!==':
          return left !== right;
        case '<':
          return (left as number) < (right as number);
        case '>':
          return (left as number) > (right as number);
        case '<=':
          return (left as number) <= (right as number);
        default:
          return (left as number) >= (right as number);
      }
    })();
    if (!holds) return false;
  }
  return true;
}

/** Python's bool(): an empty list, tuple, dict or text (a macro's SafeString too) is false. */
function pyTruthy(value: unknown): boolean {
  if (Array.isArray(value) || value instanceof String) return value.length > 0;
  if (isDict(value)) return Object.keys(value).length > 0;
  return Boolean(value);
}

/** A dict as Jinja sees it: a plain object (not an array, string, Map or relation). */
function isDict(value: unknown): value is Record<string, unknown> {
  // nunjucks' SafeString (a macro's output) is an object too, but text.
  return Object.prototype.toString.call(value) === '[object Object]' && !(value instanceof String);
}

/** An array marked as a tuple (it prints as Python prints a tuple). */
function asTuple<T extends unknown[]>(items: T): T {
  return Object.defineProperty(items, IS_TUPLE, { value: true });
}

/** A dict's (key, value) tuples, as Jinja's `items()` gives them. */
function pairs(dict: Record<string, unknown>): unknown[][] {
  return Object.entries(dict).map(asTuple);
}

/** dbt's context variables that do not fit duckhouse, and what a model writes instead. */
const UNSUPPORTED_CONTEXT: Record<string, string> = {
  target:
    "there are no dbt profiles or targets (one lake, one analytics.duckdb, always DuckDB); for a per-environment switch use var('target', 'dev') or env_var('TARGET', 'dev')",
  modules: "there are no Python modules; for dates use run_started_at (strftime, isoformat) or DuckDB's own functions (current_date, date_trunc, strftime)",
};

/**
 * dbt names a ported model may still call (packages, the adapter, queries while rendering), each an
 * error saying what to write instead — unless the project defines a macro of that name.
 */
const DBT_ONLY_CONTEXT: Record<string, string> = {
  dbt_utils:
    "dbt packages are not installed (no dbt_utils); write the SQL, or a macro of your own in models/macros/ (generate_surrogate_key: md5(concat_ws('-', coalesce(a::VARCHAR, ''), …)); star: select * exclude (col))",
  dbt: "there are no dbt cross-database macros (dbt.date_trunc, dbt.type_string…): write DuckDB's SQL (date_trunc('day', x), VARCHAR, current_timestamp)",
  adapter:
    "there is no dbt adapter: quote a name with double quotes, and read a relation's columns in SQL (select * exclude (…), columns('regex')) rather than while rendering; call a macro by its name rather than through adapter.dispatch",
  run_query: 'a model cannot run queries while it renders (its SQL is compiled before anything is built): compute it in the SQL (a subquery, a join)',
  execute: "a model cannot run queries while it renders, so there is no execute phase: drop {% if execute %} and compute in the SQL what run_query fetched",
  statement: 'a model cannot run queries while it renders: compute it in the SQL (a subquery, a join)',
  load_result: 'a model cannot run queries while it renders: compute it in the SQL (a subquery, a join)',
  graph: "there is no dbt graph object: ref() and source() are the model's dependencies",
  flags: 'there are no dbt command-line flags: use var() or env_var()',
};

/**
 * nunjucks gives no line for an error raised by looking up a name (`target`, `modules`): the line
 * of the model's first tag that reads it. (Inside a macro the error already names the macro.)
 */
function withUnsupportedLine(error: ModelError, compiled: CompiledTemplate): ModelError {
  const name = / Jinja error: (\w+) is not available in duckhouse: /.exec(error.message)?.[1];
  const source = (compiled.template as unknown as { tmplStr?: unknown }).tmplStr;
  if (name === undefined || typeof source !== 'string') return error;
  const uses = new RegExp(`\\b${name}\\b`);
  for (const tag of source.matchAll(/\{([{%])[\s\S]*?[}%]\}/g)) {
    if (!uses.test(tag[0].replace(/'[^']*'|"[^"]*"/g, ''))) continue;
    const line = source.slice(0, tag.index).split('\n').length;
    return new ModelError('JINJA_ERROR', error.message.replace(' Jinja error: ', ` Jinja error at line ${line}: `), { cause: error.cause });
  }
  return error;
}

/** Names a template cannot use for a macro: they are the built-ins. */
const RESERVED = new Set<string>([...BUILTINS, 'this', 'run_started_at', ...Object.keys(UNSUPPORTED_CONTEXT), 'return', 'namespace', 'exceptions', 'dict']);

export class TemplateEngine {
  private readonly env: nunjucks.Environment;
  private hooks: Hooks | undefined;
  /** An error of ours thrown inside a built-in: nunjucks wraps it, we rethrow the original. */
  private pending: unknown;
  /** Macro name → the file that defines it. */
  readonly macros = new Map<string, string>();
  /** The relations the built-ins gave the render in progress, by text; emptied when it ends. */
  private readonly relations = new Map<string, TemplateRelation>();
  /** When the project was read: `run_started_at` of parse mode. */
  private readonly createdAt = new Date();

  constructor(modelsDir: string) {
    // dev: keep nunjucks' TemplateError (with its line) instead of a bare Error.
    this.env = new nunjucks.Environment(new DictSafeLoader(modelsDir, { noCache: true }), {
      autoescape: false,
      throwOnUndefined: true,
      dev: true,
    });
    this.env.addExtension('do', new DoExtension());
    this.env.addFilter(DEFINED, (value: unknown, what: string, lineno: number, colno: number) => {
      if (value !== undefined) return value;
      // As nunjucks' own check does: its 0-based place, 1-based in the error.
      throw new internals.lib.TemplateError(`'${what}' is undefined`, lineno + 1, colno + 1);
    });
    this.env.addFilter(SETTABLE, (value: unknown, lineno: number, colno: number) => {
      if (isDict(value)) return value;
      throw new internals.lib.TemplateError('set: only a namespace() or a dict has attributes to set', lineno + 1, colno + 1);
    });
    // Jinja's built-in filters that nunjucks lacks (`cols | map(attribute='name') | join(', ')`).
    const keywords = (args: unknown[]): Kwargs => {
      const last = args.at(-1);
      return last !== null && typeof last === 'object' && Object.hasOwn(last, '__keywords') ? (args.pop() as Kwargs) : {};
    };
    const attribute = (item: unknown, path: unknown): unknown =>
      String(path)
        .split('.')
        .reduce<unknown>((v, k) => (v === null || v === undefined ? undefined : (v as Record<string, unknown>)[/^\d+$/.test(k) && Array.isArray(v) ? Number(k) : k]), item);
    const env = this.env;
    this.env.addFilter('map', function (this: unknown, items: unknown, ...args: unknown[]) {
      const kw = keywords(args);
      const list = Array.isArray(items) ? items : isDict(items) ? Object.keys(items) : [...(items as Iterable<unknown>)];
      if ('attribute' in kw) return list.map((item) => attribute(item, kw.attribute) ?? kw.default);
      const [name, ...rest] = args;
      if (typeof name !== 'string') throw new Error("map() takes attribute='…' or the name of a filter");
      const filter = env.getFilter(name) as (...a: unknown[]) => unknown;
      return list.map((item) => filter.call(this, item, ...rest));
    });
    this.env.addFilter('unique', (items: unknown, ...args: unknown[]) => {
      const kw = keywords(args);
      const seen = new Set<unknown>();
      const out: unknown[] = [];
      for (const item of Array.isArray(items) ? items : [...String(items)]) {
        let key = kw.attribute === undefined ? item : attribute(item, kw.attribute);
        if (typeof key === 'string' && kw.case_sensitive !== true) key = key.toLowerCase();
        if (!seen.has(key)) (seen.add(key), out.push(item));
      }
      return out;
    });
    this.env.addFilter('tojson', (value: unknown, indent?: unknown) => JSON.stringify(value, null, typeof indent === 'number' ? indent : undefined));
    // Jinja's min and max: by an attribute (`max(attribute='width')`), text compared ignoring case
    // unless case_sensitive=true.
    const extreme = (larger: boolean) => (items: unknown[], ...args: unknown[]) => {
      const kw = keywords(args);
      const [caseSensitive = kw.case_sensitive ?? false, by = kw.attribute] = args;
      const key = (item: unknown) => {
        const v = by === undefined || by === null ? item : attribute(item, by);
        return typeof v === 'string' && caseSensitive !== true ? v.toLowerCase() : v;
      };
      return items.reduce((a, b) => (larger ? (key(b) as number) > (key(a) as number) : (key(b) as number) < (key(a) as number)) ? b : a);
    };
    this.env.addFilter('min', extreme(false));
    this.env.addFilter('max', extreme(true));
    // Jinja's default(value, default_value, boolean): with boolean=true every false value is
    // replaced, an empty list or dict too (nunjucks' `value || default` kept them).
    const jinjaDefault = (value: unknown, defaultValue: unknown = '', boolean: unknown = false) =>
      boolean === true ? (pyTruthy(value) ? value : defaultValue) : value === undefined ? defaultValue : value;
    this.env.addFilter('default', jinjaDefault);
    this.env.addFilter('d', jinjaDefault);
    // Jinja's count, another name of length ("filter not found: count").
    this.env.addFilter('count', (value: unknown) => (isDict(value) ? Object.keys(value).length : value === null || value === undefined ? 0 : ((value as { length?: number }).length ?? [...(value as Iterable<unknown>)].length)));
    this.env.addFilter('items', (value: unknown) => (isDict(value) ? pairs(value) : []));
    // Jinja's list(): a dict's keys (nunjucks gave {key, value} objects), a new list of a list or tuple.
    const list = this.env.getFilter('list') as (value: unknown) => unknown;
    this.env.addFilter('list', (value: unknown) => (Array.isArray(value) ? [...value] : isDict(value) ? Object.keys(value) : list(value)));
    // nunjucks' dictsort gives [key, value] arrays; Jinja's gives tuples (printed `('a', 1)`), and takes reverse=.
    const dictsort = this.env.getFilter('dictsort') as (...args: unknown[]) => unknown;
    this.env.addFilter('dictsort', (value: unknown, caseSensitive?: unknown, by?: unknown, reverse?: unknown) => {
      const sorted = (dictsort(value, caseSensitive, by) as unknown[][]).map(asTuple);
      return reverse === true ? sorted.reverse() : sorted;
    });
    // nunjucks hands a filter its keyword arguments as one last object, which its own filters took
    // for their next argument or ignored: `sum(attribute='width')` was NaN, `round(precision=2)` NaN,
    // `replace('a', 'b', count=2)` replaced every match. Jinja's names (here in nunjucks' order of
    // the arguments, which is Jinja's) go to their places; a name the filter lacks is an error, as in Jinja.
    const JINJA_PARAMS: Record<string, string[]> = {
      sum: ['attribute', 'start'],
      round: ['precision', 'method'],
      replace: ['old', 'new', 'count'],
      indent: ['width', 'first'],
      batch: ['linecount', 'fill_with'],
      slice: ['slices', 'fill_with'],
      center: ['width'],
      truncate: ['length', 'killwords', 'end'],
      float: ['default'],
      default: ['default_value', 'boolean'],
      d: ['default_value', 'boolean'],
      dictsort: ['case_sensitive', 'by', 'reverse'],
    };
    for (const [name, params] of Object.entries(JINJA_PARAMS)) {
      const filter = this.env.getFilter(name) as (...a: unknown[]) => unknown;
      this.env.addFilter(name, function (this: unknown, value: unknown, ...args: unknown[]) {
        for (const [key, v] of Object.entries(keywords(args))) {
          if (key === '__keywords') continue;
          const at = params.indexOf(key);
          if (at < 0) throw new Error(`${name}() has no argument ${key}=${didYouMean(key, params)} (it takes ${params.join(', ')})`);
          if (at < args.length && args[at] !== undefined) throw new Error(`${name}() got ${key} twice, by position and by name`);
          args[at] = v;
        }
        return filter.call(this, value, ...args);
      });
    }
    this.env.addFilter(AT, (error: unknown, lineno: number, colno: number) => {
      const at = (error as { lineno?: unknown } | null)?.lineno;
      const placed = typeof at === 'number' && at > 0;
      if (placed || error instanceof MacroReturn || error instanceof DuckhouseError || !(error instanceof Error)) return error;
      return new internals.lib.TemplateError(error.message, lineno + 1, colno + 1);
    });
    this.env.addFilter(UNPACK, (value: unknown, count: number, lineno: number, colno: number) => {
      const items = Array.isArray(value) ? value : typeof value === 'string' ? [...value] : isDict(value) ? Object.keys(value) : undefined;
      const problem =
        items === undefined
          ? `cannot unpack ${pythonRepr(value)} into ${count} names`
          : items.length !== count
            ? `${items.length > count ? 'too many' : 'not enough'} values to unpack (expected ${count}, got ${items.length})`
            : undefined;
      if (problem !== undefined) throw new internals.lib.TemplateError(`set: ${problem}`, lineno + 1, colno + 1);
      return items;
    });
    // Jinja's `selectattr('status', 'equalto', 'paid')`: the attribute passed to a test. nunjucks'
    // took the attribute alone (truthy) and dropped the test: every item with a status was kept.
    for (const [name, keep] of [['selectattr', true], ['rejectattr', false]] as const) {
      this.env.addFilter(name, function (this: unknown, items: unknown, attr: unknown, ...args: unknown[]) {
        const [testName = 'truthy', ...rest] = args;
        const test = (env as unknown as { getTest(name: string): (...a: unknown[]) => unknown }).getTest(String(testName));
        const list = Array.isArray(items) ? items : isDict(items) ? Object.keys(items) : [...(items as Iterable<unknown>)];
        return list.filter((item) => Boolean(test.call(this, attribute(item, attr), ...rest)) === keep);
      });
    }
    // Jinja's tests that nunjucks lacks ("test not found: boolean"), by name as selectattr and select take them.
    const jinjaTests: Record<string, (value: unknown, other?: unknown) => boolean> = {
      none: (v) => v === null,
      // What select, reject, selectattr and rejectattr test without a test name: Python's truth (an empty list is false).
      truthy: pyTruthy,
      falsy: (v) => !pyTruthy(v),
      boolean: (v) => typeof v === 'boolean',
      true: (v) => v === true,
      false: (v) => v === false,
      integer: (v) => typeof v === 'number' && Number.isInteger(v),
      float: (v) => typeof v === 'number' && !Number.isInteger(v),
      sequence: (v) => Array.isArray(v) || typeof v === 'string' || v instanceof String || isDict(v),
      in: (v, seq) =>
        Array.isArray(seq) ? seq.includes(v) : typeof seq === 'string' || seq instanceof String ? String(seq).includes(String(v)) : isDict(seq) && Object.hasOwn(seq, String(v)),
    };
    for (const [name, test] of Object.entries(jinjaTests)) (this.env as unknown as { addTest(n: string, t: unknown): void }).addTest(name, test);
    this.env.addFilter(MUL, (left: unknown, right: unknown) => {
      const repeat = (items: unknown, times: unknown): unknown => {
        if (typeof times !== 'number' || !Number.isInteger(times)) return undefined;
        if (typeof items === 'string' || items instanceof String) return String(items).repeat(Math.max(0, times));
        return Array.isArray(items) ? Array.from({ length: Math.max(0, times) }, () => items).flat() : undefined;
      };
      return repeat(left, right) ?? repeat(right, left) ?? (left as number) * (right as number);
    });
    this.env.addFilter(TRUTHY, pyTruthy);
    this.env.addFilter(COMPARE, pyCompare);
    this.env.addFilter(CONCAT, (left: unknown, right: unknown) => pyStr(left) + pyStr(right));
    // Python's str(): `none | string` is 'None' (nunjucks failed: "reading 'toString'"), `[1, none] | join(',')` is '1,None'.
    this.env.addFilter('string', (value: unknown) => (typeof value === 'string' || value instanceof String ? value : pyStr(value)));
    this.env.addFilter('join', (value: unknown, ...args: unknown[]) => {
      const kw = keywords(args);
      const [separator = kw.d ?? '', attr = kw.attribute] = args;
      let items = Array.isArray(value) ? value : isDict(value) ? Object.keys(value) : typeof value === 'string' || value instanceof String ? [...String(value)] : [...(value as Iterable<unknown>)];
      if (attr !== undefined && attr !== null) items = items.map((item) => attribute(item, attr));
      return items.map(pyStr).join(String(separator));
    });
    this.env.addFilter(MOD, (left: unknown, right: unknown, lineno: number, colno: number) => {
      if (typeof left === 'string' || left instanceof String) {
        try {
          return percentFormat(String(left), right);
        } catch (error) {
          throw new internals.lib.TemplateError((error as Error).message, lineno + 1, colno + 1);
        }
      }
      // Python's modulo takes the sign of the divisor (-7 % 3 is 2); JavaScript's, of the dividend.
      const [a, b] = [left as number, right as number];
      const rest = a % b;
      return rest !== 0 && rest < 0 !== b < 0 ? rest + b : rest;
    });
    // Jinja's `'%s-%d' | format('a', 3)`: Python's % formatting (a mapping for keyword arguments).
    this.env.addFilter('format', (value: unknown, ...args: unknown[]) => {
      const kw = keywords(args);
      delete kw.__keywords;
      if (args.length > 0 && Object.keys(kw).length > 0) throw new Error("format() takes positional or keyword arguments, not both");
      return percentFormat(pyStr(value), Object.keys(kw).length > 0 ? kw : Object.defineProperty(args, IS_TUPLE, { value: true }));
    });
    this.env.addFilter(TUPLE, (items: unknown[]) => Object.defineProperty(items, IS_TUPLE, { value: true }));
    this.env.addFilter(ITERATE, (value: unknown) => (isDict(value) ? Object.keys(value) : value));
    // Anything but two lists adds as nunjucks always did, with JavaScript's +.
    this.env.addFilter(ADD, (left: unknown, right: unknown) =>
      Array.isArray(left) && Array.isArray(right) ? [...left, ...right] : (left as number) + (right as number),
    );
    for (const name of BUILTINS) this.env.addGlobal(name, (...raw: unknown[]) => this.call(name, raw));
    // Jinja's namespace(a=1): an object whose attributes {% set ns.a = … %} changes, loops included.
    this.env.addGlobal('namespace', (...args: unknown[]) => {
      const ns: Record<string, unknown> = {};
      for (const arg of args) {
        if (arg !== null && typeof arg === 'object' && !Array.isArray(arg)) Object.assign(ns, arg);
      }
      delete ns.__keywords;
      return ns;
    });
    // dbt's `{{ exceptions.raise_compiler_error('…') }}`: fails the model with that message (and
    // the file and line); it was "Unable to call exceptions[…], which is undefined".
    this.env.addGlobal('exceptions', {
      raise_compiler_error: (message: unknown) => {
        throw new Error(`Compilation Error: ${pyStr(message)}`);
      },
    });
    // Jinja's dict(a=1), dict(pairs), dict(d, b=2) ("Unable to call dict, which is undefined").
    this.env.addGlobal('dict', (...args: unknown[]) => {
      const kw = keywords(args);
      delete kw.__keywords;
      if (args.length > 1) throw new Error(`dict() takes at most 1 positional argument, got ${args.length}`);
      const [from] = args;
      const out: Record<string, unknown> = {};
      if (isDict(from)) Object.assign(out, from);
      else if (Array.isArray(from)) {
        for (const pair of from) {
          if (!Array.isArray(pair) || pair.length !== 2) throw new Error(`dict(): ${pythonRepr(pair)} is not a (key, value) pair`);
          out[String(pair[0])] = pair[1];
        }
      } else if (from !== undefined) throw new Error(`dict(): cannot make a dict of ${pythonRepr(from)}`);
      return Object.assign(out, kw);
    });
    // dbt's `{{ log('msg', info=True) }}`: renders nothing; the message goes to the build's log
    // (info, or debug without info=True) when the render has a log (parse mode has none).
    this.env.addGlobal('log', (...args: unknown[]) => {
      const kw = keywords(args);
      if (args.length !== 1) throw new Error(`log() takes one message (and info=True), got ${args.length} positional arguments`);
      this.hooks?.log?.(pyStr(args[0]), kw.info === true);
      return '';
    });
    Object.defineProperty(this.globals, 'run_started_at', {
      get: () => new PyDatetime(this.hooks?.runStartedAt ?? this.createdAt),
      enumerable: true,
      configurable: true,
    });
    // dbt context duckhouse has no counterpart for: an error saying so and what to write instead,
    // also where a test reads it (`{% if target.name == 'prod' %}` was silently false).
    for (const [name, instead] of [...Object.entries(UNSUPPORTED_CONTEXT), ...Object.entries(DBT_ONLY_CONTEXT)]) {
      Object.defineProperty(this.globals, name, {
        get: () => {
          throw new Error(`${name} is not available in duckhouse: ${instead}`);
        },
        enumerable: true,
        configurable: true,
      });
    }
    this.env.addGlobal('return', (value: unknown) => {
      throw new MacroReturn(value);
    });
    // `this` is a value, not a call: a getter so macros defined elsewhere see the current model's.
    Object.defineProperty(this.globals, 'this', { get: () => this.hooks && this.asText(this.hooks.this), enumerable: true, configurable: true });
  }

  private get globals(): Record<string, unknown> {
    return (this.env as unknown as { globals: Record<string, unknown> }).globals;
  }

  private call(name: BuiltinName, raw: unknown[]): unknown {
    const hooks = this.hooks;
    if (!hooks) throw new Error(`${name}() is only available inside a model, not at the top level of a macro file`);
    const last = raw.at(-1);
    let args = raw;
    let kwargs: Kwargs = {};
    if (last !== null && typeof last === 'object' && (last as { __keywords?: unknown }).__keywords === true) {
      args = raw.slice(0, -1);
      const { __keywords: _, ...rest } = last as Kwargs;
      kwargs = rest;
    }
    try {
      return this.asText(hooks[name](args, kwargs));
    } catch (error) {
      if (error instanceof DuckhouseError) this.pending = error;
      throw error;
    }
  }

  private asText(value: unknown): unknown {
    if (!(value instanceof TemplateRelation)) return value;
    this.relations.set(value.sql, value);
    return value.sql;
  }

  /** Compiles now, so syntax errors surface at discovery: ModelError JINJA_ERROR with the line. */
  compile(text: string, name: string, label: string): CompiledTemplate {
    try {
      return { template: withJinjaCompat(() => new nunjucks.Template(spaceDictBraces(text), this.env, name, true)), label };
    } catch (error) {
      throw jinjaError(label, error);
    }
  }

  /** Runs a macro file and makes each macro it defines a global of every template of the project. */
  loadMacros(file: CompiledTemplate, display: string): void {
    let exported: Record<string, unknown> = {};
    let failure: unknown;
    const run = file.template as unknown as {
      getExported(cb: (error: unknown, exported: Record<string, unknown> | null) => void): void;
    };
    try {
      withJinjaCompat(() =>
        run.getExported((error, result) => {
          if (error) failure ??= error;
          else exported = result ?? {};
        }),
      );
    } catch (error) {
      failure ??= error;
    }
    if (failure !== undefined) throw jinjaError(file.label, failure);
    for (const [name, value] of Object.entries(exported)) {
      if (typeof value !== 'function') continue;
      if (RESERVED.has(name)) {
        throw new ModelError('MACRO_RESERVED', `${file.label}: macro ${name} has the name of a built-in; rename it`);
      }
      const other = this.macros.get(name);
      if (other !== undefined) {
        throw new ModelError('MACRO_DUPLICATE', `macro ${name} is defined twice: ${other} and ${display}`);
      }
      this.macros.set(name, display);
      // A macro named like a dbt-only name (`flags`, `graph`…) replaces its error getter.
      if (name in DBT_ONLY_CONTEXT) Object.defineProperty(this.globals, name, { value: undefined, writable: true, enumerable: true, configurable: true });
      this.env.addGlobal(name, inMacro(name, display, value as (...args: unknown[]) => unknown));
    }
  }

  /** Renders with `hooks` answering the built-ins. Re-entrant: ephemeral refs render inside a render. */
  render(compiled: CompiledTemplate, hooks: Hooks, context: Record<string, unknown> = {}): string {
    const previous = this.hooks;
    this.hooks = hooks;
    this.pending = undefined;
    try {
      return withJinjaCompat(() => compiled.template.render(context), this.relations);
    } catch (error) {
      const ours = this.pending;
      if (ours !== undefined) throw ours;
      throw withUnsupportedLine(jinjaError(compiled.label, error), compiled);
    } finally {
      this.hooks = previous;
      this.pending = undefined;
      if (previous === undefined) this.relations.clear();
    }
  }
}

/** `{% raw %}` or `{% verbatim %}`: its content is text, whatever braces it holds. */
const RAW_START = /\{%-?\s*(raw|verbatim)\s*-?%\}/y;

/**
 * Jinja reads `{'sul': {'uf': 'SC'}}` as one expression (its lexer ignores a tag's end while a
 * brace is open); nunjucks' lexer takes any `}}` inside a tag for the end of a `{{ … }}`. So inside
 * `{% %}` and `{{ }}` tags, a `}` that closes a dict and is followed by another `}` gets a space
 * after it. Text, comments, raw blocks and string literals are left alone, and no line break is
 * added or removed, so the lines of errors stay right.
 */
/** Files read by `{% import %}`, `{% from %}` and `{% include %}` get the same dict-brace spacing as compiled ones. */
class DictSafeLoader extends nunjucks.FileSystemLoader {
  override getSource(name: string): nunjucks.LoaderSource {
    const source = super.getSource(name);
    if (source) source.src = spaceDictBraces(source.src);
    return source;
  }
}

function spaceDictBraces(text: string): string {
  const out: string[] = [];
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('{', i);
    if (start < 0) break;
    const kind = text[start + 1];
    if (kind === '#') {
      const end = text.indexOf('#}', start + 2);
      i = end < 0 ? text.length : end + 2;
      continue;
    }
    if (kind !== '{' && kind !== '%') {
      i = start + 1;
      continue;
    }
    RAW_START.lastIndex = start;
    const raw = RAW_START.exec(text);
    if (raw) {
      const end = new RegExp(`\\{%-?\\s*end${raw[1]}\\s*-?%\\}`, 'g');
      end.lastIndex = RAW_START.lastIndex;
      i = end.exec(text) ? end.lastIndex : text.length;
      continue;
    }
    let depth = 0;
    let j = start + 2;
    while (j < text.length) {
      const c = text[j]!;
      if (c === "'" || c === '"') {
        j++;
        while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
        j++;
      } else if (c === '{') {
        depth++;
        j++;
      } else if (c === '}' && depth > 0) {
        depth--;
        j++;
        if (text[j] === '}') {
          out.push(text.slice(copied, j), ' ');
          copied = j;
        }
      } else if ((c === '}' || c === '%') && text[j + 1] === '}') {
        j += 2;
        break;
      } else {
        j++;
      }
    }
    i = j;
  }
  out.push(text.slice(copied));
  return out.join('');
}

/** Where a runtime error was raised: nunjucks names the model being rendered but gives the macro file's line. */
const MACRO_OF_ERROR = Symbol('duckhouse.macro');

/** The macro, marking an error raised inside it (the innermost macro wins) with its name and file. */
function inMacro(name: string, file: string, macro: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  return function (this: unknown, ...args: unknown[]) {
    try {
      return macro.apply(this, args);
    } catch (error) {
      if (error !== null && typeof error === 'object' && !(MACRO_OF_ERROR in error) && Object.isExtensible(error)) {
        Object.defineProperty(error, MACRO_OF_ERROR, { value: { name, file } });
      }
      throw error;
    }
  };
}

/** dbt's block tags duckhouse has no counterpart for, and what to write instead. */
const DBT_BLOCKS: Record<string, string> = {
  test: 'a generic test ({% test name(model, column_name) %}) is defined in a file under models/macros/, and used by its name in a .yml',
  snapshot: "snapshots are not supported: keep history with an incremental model (append, or merge on a key and a valid-from column) over bronze, which keeps every extraction",
  materialization: 'custom materializations are not supported: view, table, ephemeral and incremental are',
};

/**
 * nunjucks reports parse errors with 1-based lines but wraps runtime errors with 0-based ones
 * (and shows no line at all for line 0): normalise to 1-based.
 */
export function jinjaError(label: string, error: unknown): ModelError {
  if (error instanceof DuckhouseError) return error;
  const err = (error ?? {}) as { message?: unknown; lineno?: unknown; colno?: unknown; cause?: unknown };
  let line: number | undefined;
  if (typeof err.lineno === 'number') {
    if (err.cause instanceof Error) line = err.lineno > 0 || (typeof err.colno === 'number' && err.colno > 0) ? err.lineno + 1 : undefined;
    else if (err.lineno > 0) line = err.lineno;
  }
  let text = String(err.message ?? error);
  for (;;) {
    const next = text.replace(/^(?:Template render error: )?\([^)\n]*\)(?: \[Line \d+(?:, Column \d+)?\])?\n\s*/, '');
    if (next === text) break;
    text = next;
  }
  text = text.replace(/^(?:Error|TypeError|ReferenceError): /, '');
  const dbtBlock = /^unknown block tag: (\w+)$/.exec(text)?.[1];
  if (dbtBlock !== undefined && dbtBlock in DBT_BLOCKS) text = `${text}: ${DBT_BLOCKS[dbtBlock]}`;
  const macro = (macroOf(error) ?? macroOf(err.cause)) as { name: string; file: string } | undefined;
  const where = macro ? ` in macro ${macro.name} at ${macro.file}${line ? ` line ${line}` : ''}` : line ? ` at line ${line}` : '';
  return new ModelError('JINJA_ERROR', `${label}: Jinja error${where}: ${text}`, { cause: error });
}

function macroOf(error: unknown): unknown {
  return error !== null && typeof error === 'object' ? (error as Record<symbol, unknown>)[MACRO_OF_ERROR] : undefined;
}
