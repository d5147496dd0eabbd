import * as pulumi from "@pulumi/pulumi";
import type { Reach } from "../platform/types";
import { withReach } from "../shared/tunnel";

/**
 * Dashboards as code: a dynamic provider on Superset's REST API. One resource owns one dashboard
 * with everything under it (the Druid database connection, the dataset, the charts), because
 * their ids chain (dataset -> database, chart -> dataset, layout -> charts) and Superset deletes
 * them in the reverse order. Every step finds the object by name first and writes only what
 * differs, so a create after a lost state adopts instead of duplicating, and a re-run changes
 * nothing. Everything here is plain data and global fetch: the provider serializes cleanly.
 */

export interface ChartSpec {
    /** Stable identity in the spec; the name may change (a rename is an update, not a new chart). */
    key: string;
    name: string;
    kind: "line" | "bar" | "pie";
    metric: { label: string; sql: string };
    /** line: the time grain of the x axis (ISO duration); bar/pie: unused. */
    timeGrain?: string;
    /** bar/pie: the dimension the metric is split by. */
    dimension?: string;
    /** bar/pie: how many groups to show (largest first). */
    limit?: number;
    /** Superset time range, e.g. `DATEADD(DATETIME("now"), -1, hour) : now`. */
    timeRange: string;
}

export interface DashboardSpec {
    /** Superset web's HTTP port as provisioning reaches it: the published port on Docker, a tunnel on Kubernetes. */
    web: Reach;
    /**
     * Superset's URL, in state written before `web` existed. Used (refresh, delete) only when `web`
     * is absent; no longer written.
     */
    url?: string;
    username: string;
    password: string;
    database: { name: string; sqlalchemyUri: string };
    dataset: { table: string; timeColumn: string };
    charts: ChartSpec[];
    dashboard: { title: string; slug: string; refreshSeconds: number };
    /** How long create waits for the Druid datasource to exist (ingestion may still be starting). */
    tableWaitSeconds: number;
}

export interface DashboardState extends DashboardSpec {
    databaseId: number;
    datasetId: number;
    chartIds: Record<string, number>;
    dashboardId: number;
}

/** What the dashboard is made of; connection details are how it is reached, not what it is. */
const CONTENT = ["database", "dataset", "charts", "dashboard"] as const;
export type DashboardContent = Omit<DashboardSpec, "web" | "url" | "username" | "password">;

/**
 * Runs one provider operation against Superset's URL: through the spec's reach (one tunnel for the
 * whole operation on Kubernetes), or the URL of state written by earlier versions (Docker).
 */
export async function atSuperset<T>(spec: Pick<DashboardSpec, "web" | "url">, fn: (url: string) => Promise<T>): Promise<T> {
    if (spec.web) return withReach([spec.web], ([address]) => fn(`http://${address}`));
    if (spec.url) return fn(spec.url);
    throw new Error("the dashboard's state has neither Superset's reach nor its URL");
}

/** Superset's SQLAlchemy URI for Druid SQL on a broker (or router) address `host:port`. */
export function druidSqlalchemyUri(broker: string): string {
    return `druid://${broker}/druid/v2/sql/`;
}

/**
 * What the pipeline's dashboard is made of, over the datasource the Druid tier ingests
 * (`viewing_aggregates` unless `table` says otherwise). Title and refresh are `superset.dashboard`
 * config; the slug stays, so a new title is an update of the same dashboard.
 */
export function viewingDashboard(
    sqlalchemyUri: string,
    options: { prefix?: string; table?: string; title?: string; refreshSeconds?: number } = {},
): DashboardContent {
    // A prefix lets tests run beside a real dashboard without touching it.
    const prefix = options.prefix ?? "";
    const plays = { label: "plays", sql: "SUM(plays)" };
    // Rolling windows: Superset's "Last day" means yesterday (midnight to midnight), which hides live data.
    const lastHour = 'DATEADD(DATETIME("now"), -1, hour) : now';
    const lastDay = 'DATEADD(DATETIME("now"), -1, day) : now';
    return {
        database: { name: `${prefix}Druid`, sqlalchemyUri },
        dataset: { table: options.table ?? "viewing_aggregates", timeColumn: "__time" },
        charts: [
            { key: "plays-per-minute", name: `${prefix}Plays per minute`, kind: "line", metric: plays, timeGrain: "PT1M", timeRange: lastHour },
            { key: "top-titles", name: `${prefix}Top titles`, kind: "bar", metric: plays, dimension: "title", limit: 10, timeRange: lastDay },
            { key: "plays-by-country", name: `${prefix}Plays by country`, kind: "bar", metric: plays, dimension: "country", limit: 25, timeRange: lastDay },
            { key: "plays-by-device", name: `${prefix}Plays by device`, kind: "pie", metric: plays, dimension: "device", limit: 10, timeRange: lastDay },
        ],
        dashboard: {
            title: `${prefix}${options.title ?? "Viewing activity"}`,
            slug: `${prefix.toLowerCase().replace(/[^a-z0-9]+/g, "-")}viewing-activity`,
            refreshSeconds: options.refreshSeconds ?? 60,
        },
        tableWaitSeconds: 600,
    };
}

// ---------------------------------------------------------------------------------------------
// REST client

type Json = Record<string, unknown>;

export interface Session {
    call<T = Json>(method: string, path: string, body?: unknown, okStatuses?: number[]): Promise<{ status: number; body: T }>;
}

/** A request that got no HTTP answer (refused, reset, timed out): whether Superset acted on it is unknown. */
export class NoAnswer extends Error {}

/**
 * One HTTP exchange with Superset. A request that gets no answer is sent again (up to 3 times)
 * when repeating it cannot do harm: under load, gunicorn closes an idle keep-alive connection
 * just as the next request goes out on it ("fetch failed", seen in CI while the provider polled
 * for the datasource every 5 s). A POST is not repeated here; `createOnce` first looks for what
 * it may have created.
 *
 * A 429 is different: Superset's limiter (RATELIMIT_APPLICATION, "50 per second" per client in
 * production mode; 5 per second on login) refuses before the view runs, so any method, a POST
 * too, is sent again once the window has passed. A fast machine reading a dashboard's objects
 * one after another hit it in CI. The wait is the answer's Retry-After when it has one, else
 * one window plus jitter, and gives up after a minute of refusals with Superset's own message.
 */
async function exchange(url: string, init: RequestInit, what: string, repeatable: boolean): Promise<Response> {
    const limitedSince = Date.now();
    for (let attempt = 1, limited = 0; ; ) {
        let response: Response;
        try {
            response = await fetch(url, { ...init, signal: AbortSignal.timeout(120_000) });
        } catch (e) {
            const reason = e instanceof Error ? `${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ""}` : String(e);
            if (!repeatable || attempt >= 3) throw new NoAnswer(`Superset ${what}: no answer after ${attempt} attempt(s): ${reason}`);
            await sleep(1000 * attempt++);
            continue;
        }
        if (response.status !== 429 || Date.now() - limitedSince > RATE_LIMIT_PATIENCE_MS) return response;
        await response.body?.cancel();
        await sleep(retryAfterMs(response.headers.get("retry-after"), ++limited));
    }
}

/** How long exchange() keeps resending a request Superset's rate limiter refuses. */
export const RATE_LIMIT_PATIENCE_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry-After in seconds (what flask-limiter sends), else one 1-second window, longer each time, with jitter so parallel callers spread out. */
export function retryAfterMs(header: string | null, refusals: number): number {
    const seconds = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : undefined;
    const base = seconds !== undefined ? seconds * 1000 : Math.min(1000 * refusals, 5000);
    return Math.max(base, 200) + Math.floor(Math.random() * 250);
}

/**
 * Logs in (JWT), then fetches a CSRF token: Superset checks it on every write against the token
 * stored in the session cookie that came with it, and (over plain http too) wants a Referer.
 */
export async function login(url: string, username: string, password: string): Promise<Session> {
    // Logging in again is harmless: repeatable.
    const loginResponse = await exchange(`${url}/api/v1/security/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password, provider: "db", refresh: false }),
    }, `login at ${url}`, true);
    if (!loginResponse.ok) throw new Error(`Superset login as ${username} at ${url} failed: ${loginResponse.status} ${await loginResponse.text()}`);
    const { access_token: token } = (await loginResponse.json()) as { access_token: string };
    const csrfResponse = await exchange(`${url}/api/v1/security/csrf_token/`, { headers: { authorization: `Bearer ${token}` } }, `CSRF token at ${url}`, true);
    if (!csrfResponse.ok) throw new Error(`Superset CSRF token: ${csrfResponse.status} ${await csrfResponse.text()}`);
    const cookie = csrfResponse.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const { result: csrf } = (await csrfResponse.json()) as { result: string };
    const headers = { authorization: `Bearer ${token}`, "x-csrftoken": csrf, cookie, referer: url };
    return {
        async call<T>(method: string, path: string, body?: unknown, okStatuses: number[] = []) {
            // A JSON content type without a body makes some endpoints (chart data) answer 400.
            const response = await exchange(`${url}${path}`, {
                method,
                headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
                body: body === undefined ? undefined : JSON.stringify(body),
            }, `${method} ${path} at ${url}`, method !== "POST");
            const text = await response.text();
            if (!response.ok && !okStatuses.includes(response.status)) throw new Error(`Superset ${method} ${path}: ${response.status} ${text.slice(0, 1000)}`);
            return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
        },
    };
}

/**
 * POSTs a new object, once: when the POST gets no answer, `find` looks for what it may have
 * created before it is sent again, so a lost answer never makes a second copy.
 */
async function createOnce(s: Session, path: string, body: Json, find: () => Promise<number | undefined>): Promise<number> {
    for (let attempt = 1; ; attempt++) {
        try {
            return (await s.call<{ id: number }>("POST", path, body)).body.id;
        } catch (e) {
            if (!(e instanceof NoAnswer) || attempt >= 3) throw e;
            const found = await find();
            if (found !== undefined) return found;
        }
    }
}

/** A rison string literal (Superset's list filters are rison): always quoted, ! and ' escaped. */
const rison = (s: string) => `'${s.replace(/!/g, "!!").replace(/'/g, "!'")}'`;
const filterQuery = (col: string, value: string) => `?q=${encodeURIComponent(`(filters:!((col:${col},opr:eq,value:${rison(value)})),page_size:100)`)}`;

/** Deep equality on JSON values with object keys in any order. */
function same(a: unknown, b: unknown): boolean {
    if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => same(v, b[i]));
    if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
        const ka = Object.keys(a).sort();
        return same(ka, Object.keys(b).sort()) && ka.every((k) => same((a as Json)[k], (b as Json)[k]));
    }
    return a === b;
}

/**
 * Whether `actual` differs from `desired` in a field Superset reports back (GET omits some
 * write-only fields, e.g. a chart's datasource_id, which its params carry too). Strings holding
 * JSON are compared parsed.
 */
function differs(actual: Json, desired: Json): boolean {
    return Object.entries(desired).some(([k, want]) => {
        if (!(k in actual)) return false;
        const have = actual[k];
        const parse = (v: unknown) => (typeof v === "string" && /^\s*[[{]/.test(v) ? JSON.parse(v) : v);
        return !same(parse(have), parse(want));
    });
}

/** GET an object by id; undefined when it no longer exists (deleted outside Pulumi). */
async function byId(s: Session, kind: string, id: number | undefined): Promise<Json | undefined> {
    if (id === undefined) return undefined;
    // A database's plain GET leaves out its URI; the connection view has it.
    const r = await s.call<{ result: Json }>("GET", `/api/v1/${kind}/${id}${kind === "database" ? "/connection" : ""}`, undefined, [404]);
    return r.status === 404 ? undefined : r.body.result;
}

/**
 * The objects of `kind` whose `col` equals `value`. Superset's list API is not safe under
 * concurrent requests: with another client listing at the same time (a user's browser), a call
 * can be answered with the rows of the other request's filter (apache/superset#33828; seen here
 * on 2 of 100 calls with 4 at a time). Trusting such an answer would adopt a stranger's chart,
 * or create a second copy of ours. So every row is checked against the filter, and an answer
 * counts only once calls in a row agree on it: two for a found object, three for "none" (an
 * answer mixed up with a filter that matched nothing is empty, and looks clean).
 */
export async function findIds(s: Session, kind: string, col: string, value: string): Promise<Json[]> {
    let previous: string | undefined;
    let agreeing = 0;
    for (let attempt = 1; attempt <= 10; attempt++) {
        const r = await s.call<{ result: Json[]; ids: number[] }>("GET", `/api/v1/${kind}/${filterQuery(col, value)}`);
        const rows: Json[] = r.body.result.map((row, i) => ({ ...row, id: r.body.ids[i] ?? row.id }));
        if (!rows.every((row) => row[col] === value)) {
            previous = undefined; // mixed up with another request: start over
            continue;
        }
        const answer = rows.map((row) => row.id).sort().join(",");
        agreeing = answer === previous ? agreeing + 1 : 1;
        previous = answer;
        if (agreeing >= (rows.length ? 2 : 3)) return rows;
    }
    throw new Error(`Superset ${kind} list (${col} = ${JSON.stringify(value)}): no two answers in a row agreed; its list API mixes up concurrent requests (apache/superset#33828). Run pulumi up again.`);
}

/**
 * Ensures one object: the known id, else the one found by name, else a new one (created from
 * `create`, default `desired`: some fields, e.g. a dataset's main_dttm_col, are accepted only
 * by PUT). Writes only the fields that differ, so an unchanged object keeps its `changed_on`.
 */
async function ensure(s: Session, kind: string, known: number | undefined, find: () => Promise<number | undefined>, desired: Json, create: Json = desired): Promise<number> {
    let id = (await byId(s, kind, known)) ? known : await find();
    id ??= await createOnce(s, `/api/v1/${kind}/`, create, find);
    const current = (await byId(s, kind, id))!;
    if (differs(current, desired)) await s.call("PUT", `/api/v1/${kind}/${id}`, desired);
    return id;
}

// ---------------------------------------------------------------------------------------------
// What each object should look like

const adhocMetric = (m: ChartSpec["metric"]) => ({ expressionType: "SQL", sqlExpression: m.sql, label: m.label, hasCustomLabel: true, optionName: `metric_${m.label}` });

/** The chart's form data (what the explore view edits) and a query context (what the chart data API runs). */
export function chartBody(c: ChartSpec, datasetId: number, timeColumn: string): Json {
    const metric = adhocMetric(c.metric);
    const timeFilter = { expressionType: "SIMPLE", clause: "WHERE", subject: timeColumn, operator: "TEMPORAL_RANGE", comparator: c.timeRange };
    const common = { datasource: `${datasetId}__table`, adhoc_filters: [timeFilter], time_range: c.timeRange };
    let params: Json;
    let query: Json;
    const filters = [{ col: timeColumn, op: "TEMPORAL_RANGE", val: c.timeRange }];
    if (c.kind === "line") {
        params = { ...common, viz_type: "echarts_timeseries_line", x_axis: timeColumn, time_grain_sqla: c.timeGrain, metrics: [metric], groupby: [], row_limit: 10000, x_axis_sort_asc: true, rich_tooltip: true, show_legend: false };
        const axis = { timeGrain: c.timeGrain, columnType: "BASE_AXIS", sqlExpression: timeColumn, label: timeColumn, expressionType: "SQL" };
        query = { filters, extras: { time_grain_sqla: c.timeGrain }, columns: [axis], metrics: [metric], orderby: [[axis, true]], row_limit: 10000 };
    } else if (c.kind === "bar") {
        // The query keeps the largest groups (order_desc with the row limit); the drawing sorts them
        // ascending because a horizontal ECharts bar chart lays its first category at the bottom:
        // so the largest ends at the top, where a reader looks first.
        params = {
            ...common, viz_type: "echarts_timeseries_bar", x_axis: c.dimension, metrics: [metric], groupby: [], row_limit: c.limit, order_desc: true,
            orientation: "horizontal", x_axis_sort: c.metric.label, x_axis_sort_asc: true, show_value: true, show_legend: false,
        };
        query = { filters, columns: [c.dimension], metrics: [metric], orderby: [[metric, false]], row_limit: c.limit };
    } else {
        params = { ...common, viz_type: "pie", groupby: [c.dimension], metric, row_limit: c.limit, sort_by_metric: true, donut: true, show_labels: true, label_type: "key_percent" };
        query = { filters, columns: [c.dimension], metrics: [metric], orderby: [[metric, false]], row_limit: c.limit };
    }
    const queryContext = { datasource: { id: datasetId, type: "table" }, force: false, queries: [query], form_data: params, result_format: "json", result_type: "full" };
    return { slice_name: c.name, viz_type: params.viz_type, datasource_id: datasetId, datasource_type: "table", params: JSON.stringify(params), query_context: JSON.stringify(queryContext) };
}

/** Two charts per row, in spec order, under the dashboard's header. */
export function dashboardLayout(title: string, charts: { id: number; name: string }[]): Json {
    const layout: Json = {
        DASHBOARD_VERSION_KEY: "v2",
        ROOT_ID: { type: "ROOT", id: "ROOT_ID", children: ["GRID_ID"] },
        HEADER_ID: { type: "HEADER", id: "HEADER_ID", meta: { text: title } },
    };
    const rows: string[] = [];
    for (let i = 0; i < charts.length; i += 2) {
        const row = `ROW-${i / 2 + 1}`;
        rows.push(row);
        const cells = charts.slice(i, i + 2).map((c) => `CHART-${c.id}`);
        layout[row] = { type: "ROW", id: row, children: cells, parents: ["ROOT_ID", "GRID_ID"], meta: { background: "BACKGROUND_TRANSPARENT" } };
        for (const c of charts.slice(i, i + 2)) {
            layout[`CHART-${c.id}`] = { type: "CHART", id: `CHART-${c.id}`, children: [], parents: ["ROOT_ID", "GRID_ID", row], meta: { chartId: c.id, sliceName: c.name, width: 6, height: 50 } };
        }
    }
    layout.GRID_ID = { type: "GRID", id: "GRID_ID", children: rows, parents: ["ROOT_ID"] };
    return layout;
}

/** Superset adds each chart's uuid to the stored layout; ours does not carry it. */
function withoutUuids(positionJson: unknown): unknown {
    if (typeof positionJson !== "string" || !positionJson) return positionJson;
    const layout = JSON.parse(positionJson) as Record<string, { meta?: Json }>;
    for (const node of Object.values(layout)) if (node && typeof node === "object" && node.meta) delete node.meta.uuid;
    return layout;
}

// ---------------------------------------------------------------------------------------------
// Create-or-update and delete, shared by the provider and the integration tests

/** Waits for the datasource: Superset refuses a dataset over a table Druid does not serve yet. */
async function waitForTable(s: Session, databaseId: number, table: string, seconds: number): Promise<void> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
        // Superset asks Druid for its tables on every call; while Druid is busy or still starting it
        // can answer 500 (pydruid: "This result object does not return rows"): not yet, like 422.
        const r = await s.call<{ result: { value: string }[]; message?: unknown }>(
            "GET", `/api/v1/database/${databaseId}/tables/?q=${encodeURIComponent(`(force:!t,schema_name:druid)`)}`, undefined, [422, 500, 502, 503, 504]);
        if (r.status === 200 && r.body.result.some((t) => t.value === table)) return;
        if (Date.now() >= deadline) {
            const last = r.status === 200 ? "" : ` (Superset's last answer: HTTP ${r.status} ${JSON.stringify(r.body.message ?? r.body).slice(0, 300)})`;
            throw new Error(`Druid does not serve the datasource ${table} after ${seconds} s: its ingestion has produced no rows yet${last}. Start the pipeline, then run pulumi up again.`);
        }
        await sleep(5000);
    }
}

/** Brings Superset in step with the spec; `known` holds the ids from the last run (absent on create). */
export function applyDashboard(spec: DashboardSpec, known?: Partial<DashboardState>): Promise<DashboardState> {
    return atSuperset(spec, (url) => applyDashboardAt(url, spec, known));
}

async function applyDashboardAt(url: string, spec: DashboardSpec, known?: Partial<DashboardState>): Promise<DashboardState> {
    const s = await login(url, spec.username, spec.password);
    const firstId = async (kind: string, col: string, value: string, match: (row: Json) => boolean = () => true) =>
        (await findIds(s, kind, col, value)).find(match)?.id as number | undefined;

    const databaseId = await ensure(s, "database", known?.databaseId, () => firstId("database", "database_name", spec.database.name), {
        database_name: spec.database.name,
        sqlalchemy_uri: spec.database.sqlalchemyUri,
        expose_in_sqllab: true,
        allow_run_async: false,
    });
    if (!(await byId(s, "dataset", known?.datasetId)) && !(await firstId("dataset", "table_name", spec.dataset.table, (r) => (r.database as Json)?.id === databaseId))) {
        await waitForTable(s, databaseId, spec.dataset.table, spec.tableWaitSeconds);
    }
    const datasetId = await ensure(
        s,
        "dataset",
        known?.datasetId,
        () => firstId("dataset", "table_name", spec.dataset.table, (r) => (r.database as Json)?.id === databaseId),
        { main_dttm_col: spec.dataset.timeColumn },
        { database: databaseId, schema: "druid", table_name: spec.dataset.table },
    );

    const chartIds: Record<string, number> = {};
    for (const c of spec.charts) {
        const body = chartBody(c, datasetId, spec.dataset.timeColumn);
        chartIds[c.key] = await ensure(s, "chart", known?.chartIds?.[c.key], () => firstId("chart", "slice_name", c.name), body);
    }
    // Charts the spec no longer lists.
    for (const [key, id] of Object.entries(known?.chartIds ?? {})) {
        if (!(key in chartIds)) await s.call("DELETE", `/api/v1/chart/${id}`, undefined, [404]);
    }

    const layout = dashboardLayout(spec.dashboard.title, spec.charts.map((c) => ({ id: chartIds[c.key]!, name: c.name })));
    const metadata = { refresh_frequency: spec.dashboard.refreshSeconds, cross_filters_enabled: true };
    let dashboardId = (await byId(s, "dashboard", known?.dashboardId)) ? known!.dashboardId : undefined;
    // Dashboards are found by slug (the list filter has no exact title match).
    const bySlug = async () => (await s.call<{ result?: { id: number } }>("GET", `/api/v1/dashboard/${encodeURIComponent(spec.dashboard.slug)}`, undefined, [404])).body.result?.id;
    dashboardId ??= await bySlug();
    dashboardId ??= await createOnce(s, "/api/v1/dashboard/", { dashboard_title: spec.dashboard.title, slug: spec.dashboard.slug, published: true }, bySlug);
    const current = (await byId(s, "dashboard", dashboardId))!;
    const currentMetadata = JSON.parse((current.json_metadata as string) || "{}") as Json;
    const stale =
        differs(current, { dashboard_title: spec.dashboard.title, slug: spec.dashboard.slug, published: true }) ||
        !same(withoutUuids(current.position_json), layout) ||
        differs(currentMetadata, metadata);
    if (stale) {
        // Layout goes in json_metadata.positions: from there Superset also links the charts to the dashboard.
        await s.call("PUT", `/api/v1/dashboard/${dashboardId}`, {
            dashboard_title: spec.dashboard.title,
            slug: spec.dashboard.slug,
            published: true,
            json_metadata: JSON.stringify({ ...metadata, positions: layout }),
        });
    }
    return { ...spec, databaseId, datasetId, chartIds, dashboardId };
}

/** Removes the dashboard and what it owns, dependents first; already-gone objects are fine. */
export function deleteDashboard(state: DashboardState): Promise<void> {
    return atSuperset(state, (url) => deleteDashboardAt(url, state));
}

async function deleteDashboardAt(url: string, state: DashboardState): Promise<void> {
    const s = await login(url, state.username, state.password);
    await s.call("DELETE", `/api/v1/dashboard/${state.dashboardId}`, undefined, [404]);
    for (const id of Object.values(state.chartIds)) await s.call("DELETE", `/api/v1/chart/${id}`, undefined, [404]);
    await s.call("DELETE", `/api/v1/dataset/${state.datasetId}`, undefined, [404]);
    await s.call("DELETE", `/api/v1/database/${state.databaseId}`, undefined, [404]);
}

/** A chart as Superset has it, in the words of the spec: the inverse of chartBody's form data. */
function chartFromSuperset(key: string, live: Json): ChartSpec {
    const p = JSON.parse((live.params as string) || "{}") as Json;
    const kinds: Record<string, ChartSpec["kind"]> = { echarts_timeseries_line: "line", echarts_timeseries_bar: "bar", pie: "pie" };
    const kind = kinds[String(live.viz_type ?? p.viz_type)] ?? (String(live.viz_type) as ChartSpec["kind"]);
    const m = ((kind === "pie" ? p.metric : (p.metrics as Json[] | undefined)?.[0]) ?? {}) as Json;
    const base = { key, name: live.slice_name as string, kind, metric: { label: m.label as string, sql: m.sqlExpression as string }, timeRange: p.time_range as string };
    if (kind === "line") return { ...base, timeGrain: p.time_grain_sqla as string };
    return { ...base, dimension: (kind === "pie" ? (p.groupby as string[] | undefined)?.[0] : p.x_axis) as string, limit: p.row_limit as number };
}

/**
 * What Superset has (`pulumi refresh`), in the words of the spec: an object that still matches
 * what applyDashboard would write reads back as declared, a changed one as what Superset now
 * holds, a deleted chart as missing. A deleted dashboard reads as gone.
 */
export function readDashboard(state: DashboardState): Promise<DashboardState | undefined> {
    return atSuperset(state, (url) => readDashboardAt(url, state));
}

async function readDashboardAt(url: string, state: DashboardState): Promise<DashboardState | undefined> {
    const s = await login(url, state.username, state.password);
    const dashboard = await byId(s, "dashboard", state.dashboardId);
    if (!dashboard) return undefined;
    const database = await byId(s, "database", state.databaseId);
    const dataset = await byId(s, "dataset", state.datasetId);
    const charts: ChartSpec[] = [];
    const chartIds: Record<string, number> = {};
    for (const c of state.charts) {
        const live = await byId(s, "chart", state.chartIds[c.key]);
        if (!live) continue;
        charts.push(differs(live, chartBody(c, state.datasetId, state.dataset.timeColumn)) ? chartFromSuperset(c.key, live) : c);
        chartIds[c.key] = state.chartIds[c.key]!;
    }
    const metadata = JSON.parse((dashboard.json_metadata as string) || "{}") as Json;
    return {
        ...state,
        database: database ? { name: database.database_name as string, sqlalchemyUri: database.sqlalchemy_uri as string } : { name: "", sqlalchemyUri: "" },
        dataset: dataset ? { table: dataset.table_name as string, timeColumn: dataset.main_dttm_col as string } : { table: "", timeColumn: "" },
        charts,
        chartIds,
        dashboard: { title: dashboard.dashboard_title as string, slug: dashboard.slug as string, refreshSeconds: metadata.refresh_frequency as number },
    };
}

export class DashboardProvider implements pulumi.dynamic.ResourceProvider<DashboardSpec, DashboardState> {
    async check(_olds: DashboardSpec, news: DashboardSpec): Promise<pulumi.dynamic.CheckResult<DashboardSpec>> {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        const keys = news.charts.map((c) => c.key);
        if (new Set(keys).size !== keys.length) failures.push({ property: "charts", reason: `chart keys must be unique: ${keys.join(", ")}` });
        for (const c of news.charts) {
            if (c.kind !== "line" && !c.dimension) failures.push({ property: "charts", reason: `chart ${c.key} (${c.kind}) needs a dimension` });
        }
        return { inputs: news, failures };
    }

    async diff(_id: string, olds: DashboardState, news: DashboardSpec): Promise<pulumi.dynamic.DiffResult> {
        // A new address, tunnel or rotated password is the same dashboard reached another way.
        const changed = CONTENT.filter((k) => !same(olds[k], news[k]));
        return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
    }

    async create(inputs: DashboardSpec): Promise<pulumi.dynamic.CreateResult<DashboardState>> {
        const state = await applyDashboard(inputs);
        return { id: String(state.dashboardId), outs: state };
    }

    async update(_id: string, olds: DashboardState, news: DashboardSpec): Promise<pulumi.dynamic.UpdateResult<DashboardState>> {
        return { outs: await applyDashboard(news, olds) };
    }

    async read(id: string, props?: DashboardState): Promise<pulumi.dynamic.ReadResult<DashboardState>> {
        if (!props?.web && !props?.url) throw new Error(`dashboard ${id}: reading needs Superset's address and login from the state (import is not supported)`);
        const live = await readDashboard(props);
        return live ? { id, props: live } : {};
    }

    async delete(_id: string, props: DashboardState): Promise<void> {
        await deleteDashboard(props);
    }
}

export type SupersetDashboardsArgs = { [K in keyof DashboardSpec]: pulumi.Input<DashboardSpec[K]> };

const dashboardProvider = new DashboardProvider();

export class SupersetDashboards extends pulumi.dynamic.Resource {
    declare readonly dashboardId: pulumi.Output<number>;
    declare readonly chartIds: pulumi.Output<Record<string, number>>;

    constructor(name: string, args: SupersetDashboardsArgs, opts?: pulumi.CustomResourceOptions) {
        // The admin password is an input; keep it encrypted in the state's outputs as well.
        super(dashboardProvider, name, { dashboardId: undefined, chartIds: undefined, ...args }, { ...opts, additionalSecretOutputs: ["password"] }, "dataplatform", "SupersetDashboards");
    }
}
