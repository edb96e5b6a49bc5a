//! Every metric imbridge exports, with its name, labels and meaning in one
//! place (`docs/metrics.md` documents the same set). Labels stay low
//! cardinality: frontend, provider, route (an inbound route's name), op (a
//! canonical operation, always), outcome (`ok` or a canonical error kind) —
//! never a user, group or raw path.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::provider::embedded::MediaCounters;

/// Latency buckets in seconds, from 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Size buckets in bytes, from 64 B to 8 MiB.
const SIZE_BUCKETS: &[f64] = &[
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 8388608.0,
];

/// The metric set of one imbridge instance (its own registry, so several
/// instances can live in one process, as tests do).
pub struct Metrics {
    registry: Registry,
    /// `imbridge_requests_total{frontend,route,op,outcome}`.
    pub requests: IntCounterVec,
    /// `imbridge_request_duration_seconds{frontend,route,op}`: whole request.
    pub request_duration: HistogramVec,
    /// `imbridge_provider_duration_seconds{frontend,provider,route,op}`: time
    /// in the provider (requests that reached it).
    pub provider_duration: HistogramVec,
    /// `imbridge_overhead_duration_seconds{frontend,route,op}`: imbridge's own
    /// time.
    pub overhead_duration: HistogramVec,
    /// `imbridge_requests_in_flight{listener}`.
    pub in_flight: IntGaugeVec,
    /// `imbridge_request_size_bytes{frontend}`.
    pub request_size: HistogramVec,
    /// `imbridge_response_size_bytes{frontend}`.
    pub response_size: HistogramVec,
    /// `imbridge_connections{listener}`: open connections (listener address
    /// or `admin`).
    pub connections: IntGaugeVec,
    /// `imbridge_connections_rejected_total{listener}`: connections refused
    /// because `max_connections` were open.
    pub connections_rejected: IntCounterVec,
    /// `imbridge_timeouts_total{listener,phase}`: connections closed or
    /// requests answered because a deadline passed (phase: header, body,
    /// request, write).
    pub timeouts: IntCounterVec,
    /// `imbridge_admin_unauthorized_total`: admin requests without the
    /// admin token.
    pub admin_unauthorized: prometheus::IntCounter,
    /// `imbridge_logins_throttled_total{frontend,by}`: password checks
    /// refused because the user or the client address had too many failures
    /// (by: user, address).
    pub logins_throttled: IntCounterVec,
    /// `imbridge_provider_calls_total{provider,op,status}`: vendor HTTP calls
    /// by answer status (`timeout`, `unreachable` when there was none).
    pub provider_calls: IntCounterVec,
    /// `imbridge_provider_call_duration_seconds{provider}`: one vendor call.
    pub provider_call_duration: HistogramVec,
    /// `imbridge_token_cache_total{provider,event}`: hit, miss, fetch,
    /// fetch_failure, invalidated.
    pub token_cache: IntCounterVec,
    /// `imbridge_provider_circuit_state{provider}`: a vendor's circuit
    /// breaker: 0 closed, 1 half-open (a probe under way), 2 open.
    pub provider_circuit_state: IntGaugeVec,
    /// `imbridge_provider_rejections_total{provider,reason}`: operations
    /// refused or cut short to protect imbridge from a vendor (reason:
    /// circuit_open, concurrency, deadline, token_backoff).
    pub provider_rejections: IntCounterVec,
    /// `imbridge_provider_in_flight{provider}`: operations on a vendor now.
    pub provider_in_flight: IntGaugeVec,
    /// `imbridge_reloads_total{trigger,result}`: config and mapping reloads
    /// (trigger: signal, file, admin; result: ok, failed).
    pub reloads: IntCounterVec,
    /// `imbridge_config_last_reload_success_timestamp_seconds`: when the
    /// running config and mappings were loaded.
    pub last_reload: prometheus::Gauge,
    /// `imbridge_config_last_reload_successful`: 1 when the last reload
    /// attempt worked, 0 when it failed (the previous version still serves).
    pub last_reload_ok: prometheus::IntGauge,
    /// `imbridge_migration_writes_total{frontend,op,outcome}`: writes of a
    /// migrating frontend the primary answered: `recorded` in the outbox,
    /// `unsupported` by the other side (not mirrored), `outbox_failed`.
    pub migration_writes: IntCounterVec,
    /// `imbridge_migration_applied_total{frontend,op,outcome}`: outbox
    /// entries handled: `applied`, `already` (the other side had it),
    /// `retry`, `dead`, `recovered` (found in flight after a crash).
    pub migration_applied: IntCounterVec,
    /// `imbridge_migration_shadow_reads_total{frontend,op,outcome}`: shadow
    /// comparisons: `match`, `mismatch`, `error`, `skipped` (no free slot).
    pub migration_shadow: IntCounterVec,
    /// `imbridge_migration_calls_total{frontend,side}`: calls of migrating
    /// frontends by the side that served them (`old`, `new`).
    pub migration_calls: IntCounterVec,
    /// `imbridge_migration_outbox_entries{frontend,state}`: outbox depth by
    /// state (`pending`, `inflight`, `dead`).
    pub migration_outbox: IntGaugeVec,
    /// `imbridge_migration_outbox_oldest_age_seconds{frontend}`: age of the
    /// oldest entry not yet applied (0 when none).
    pub migration_oldest: GaugeVec,
    /// `imbridge_migration_cutover_percent{frontend}`: share of users served
    /// by the new provider (0 outside `cutover`).
    pub migration_percent: IntGaugeVec,
    /// `imbridge_migrate_entities_total{from,to,kind,outcome}`: entities an
    /// `imbridge migrate` run walked, by outcome (copied, updated, skipped,
    /// failed).
    pub migrate_entities: IntCounterVec,
    /// `imbridge_migrate_errors_total{from,to,kind,error}`: why entities
    /// failed or a run stopped (a canonical error kind).
    pub migrate_errors: IntCounterVec,
    /// `imbridge_migrate_running{from,to}`: 1 while a migration runs.
    pub migrate_running: IntGaugeVec,
    /// `imbridge_migrate_lazy_passwords_total{provider,outcome}`: logins of
    /// users copied without a password: `set` (the source accepted it, now
    /// set on the provider), `refused`, `error`, `source_missing`.
    pub migrate_lazy_passwords: IntCounterVec,
    /// Uploads refused and the media sweep ([`MediaCounters`]).
    pub media: MediaCounters,
}

fn histogram(name: &str, help: &str, labels: &[&str], buckets: &[f64]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("static metric definition")
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition")
}

impl Metrics {
    /// Creates and registers the metric set.
    pub fn new() -> Self {
        let m = Metrics {
            registry: Registry::new(),
            requests: counter(
                "imbridge_requests_total",
                "Inbound requests by frontend, route, canonical operation and outcome (ok or a canonical error kind).",
                &["frontend", "route", "op", "outcome"],
            ),
            request_duration: histogram(
                "imbridge_request_duration_seconds",
                "Total time from request head to response, by frontend, route and canonical operation.",
                &["frontend", "route", "op"],
                LATENCY_BUCKETS,
            ),
            provider_duration: histogram(
                "imbridge_provider_duration_seconds",
                "Time spent in the provider executing an operation, by frontend, provider, route and canonical operation.",
                &["frontend", "provider", "route", "op"],
                LATENCY_BUCKETS,
            ),
            overhead_duration: histogram(
                "imbridge_overhead_duration_seconds",
                "imbridge's own time per request: total minus provider time.",
                &["frontend", "route", "op"],
                LATENCY_BUCKETS,
            ),
            in_flight: IntGaugeVec::new(
                Opts::new("imbridge_requests_in_flight", "Requests being handled now, by listener address."),
                &["listener"],
            )
            .expect("static metric definition"),
            request_size: histogram(
                "imbridge_request_size_bytes",
                "Inbound request body sizes.",
                &["frontend"],
                SIZE_BUCKETS,
            ),
            response_size: histogram(
                "imbridge_response_size_bytes",
                "Response body sizes.",
                &["frontend"],
                SIZE_BUCKETS,
            ),
            connections: IntGaugeVec::new(
                Opts::new("imbridge_connections", "Open client connections, by listener address (admin: the admin listener)."),
                &["listener"],
            )
            .expect("static metric definition"),
            connections_rejected: counter(
                "imbridge_connections_rejected_total",
                "Connections refused with 503 because max_connections were open.",
                &["listener"],
            ),
            timeouts: counter(
                "imbridge_timeouts_total",
                "Deadlines that passed, by listener and phase (header, body, request, write).",
                &["listener", "phase"],
            ),
            admin_unauthorized: prometheus::IntCounter::new(
                "imbridge_admin_unauthorized_total",
                "Admin requests refused for a missing or wrong admin token.",
            )
            .expect("static metric definition"),
            logins_throttled: counter(
                "imbridge_logins_throttled_total",
                "Password checks refused because the user or the client address had too many failed logins (by: user, address).",
                &["frontend", "by"],
            ),
            provider_calls: counter(
                "imbridge_provider_calls_total",
                "HTTP calls to vendor providers by answer status (timeout or unreachable when none).",
                &["provider", "op", "status"],
            ),
            provider_call_duration: histogram(
                "imbridge_provider_call_duration_seconds",
                "Duration of one HTTP call to a vendor provider.",
                &["provider"],
                LATENCY_BUCKETS,
            ),
            token_cache: counter(
                "imbridge_token_cache_total",
                "Vendor token cache events: hit, miss, fetch, fetch_failure, invalidated.",
                &["provider", "event"],
            ),
            provider_circuit_state: IntGaugeVec::new(
                Opts::new("imbridge_provider_circuit_state", "Circuit breaker of a vendor provider: 0 closed, 1 half-open, 2 open."),
                &["provider"],
            )
            .expect("static metric definition"),
            provider_rejections: counter(
                "imbridge_provider_rejections_total",
                "Vendor operations refused or cut short, by reason: circuit_open, concurrency, deadline, token_backoff.",
                &["provider", "reason"],
            ),
            provider_in_flight: IntGaugeVec::new(
                Opts::new("imbridge_provider_in_flight", "Operations in flight on a vendor provider."),
                &["provider"],
            )
            .expect("static metric definition"),
            reloads: counter(
                "imbridge_reloads_total",
                "Config and mapping reloads by trigger (signal, file, admin) and result (ok, failed).",
                &["trigger", "result"],
            ),
            last_reload: prometheus::Gauge::new(
                "imbridge_config_last_reload_success_timestamp_seconds",
                "When the running config and mappings were loaded (Unix seconds).",
            )
            .expect("static metric definition"),
            last_reload_ok: prometheus::IntGauge::new(
                "imbridge_config_last_reload_successful",
                "1 when the last reload attempt worked, 0 when it failed and the previous version still serves.",
            )
            .expect("static metric definition"),
            migration_writes: counter(
                "imbridge_migration_writes_total",
                "Writes of migrating frontends by what became of their mirror: recorded, unsupported, outbox_failed.",
                &["frontend", "op", "outcome"],
            ),
            migration_applied: counter(
                "imbridge_migration_applied_total",
                "Outbox entries handled by outcome: applied, already, retry, dead, recovered.",
                &["frontend", "op", "outcome"],
            ),
            migration_shadow: counter(
                "imbridge_migration_shadow_reads_total",
                "Shadow read comparisons by outcome: match, mismatch, error, skipped.",
                &["frontend", "op", "outcome"],
            ),
            migration_calls: counter(
                "imbridge_migration_calls_total",
                "Calls of migrating frontends by the side that served them (old, new).",
                &["frontend", "side"],
            ),
            migration_outbox: IntGaugeVec::new(
                Opts::new("imbridge_migration_outbox_entries", "Outbox entries by state: pending, inflight, dead."),
                &["frontend", "state"],
            )
            .expect("static metric definition"),
            migration_oldest: GaugeVec::new(
                Opts::new("imbridge_migration_outbox_oldest_age_seconds", "Age of the oldest outbox entry not yet applied (0 when none)."),
                &["frontend"],
            )
            .expect("static metric definition"),
            migration_percent: IntGaugeVec::new(
                Opts::new("imbridge_migration_cutover_percent", "Share of users served by the new provider (0 outside cutover)."),
                &["frontend"],
            )
            .expect("static metric definition"),
            migrate_entities: counter(
                "imbridge_migrate_entities_total",
                "Entities walked by imbridge migrate, by source and target provider, kind and outcome (copied, updated, skipped, failed).",
                &["from", "to", "kind", "outcome"],
            ),
            migrate_errors: counter(
                "imbridge_migrate_errors_total",
                "Why imbridge migrate failed an entity or stopped, by canonical error kind.",
                &["from", "to", "kind", "error"],
            ),
            migrate_running: IntGaugeVec::new(
                Opts::new("imbridge_migrate_running", "1 while imbridge migrate copies from one provider to another."),
                &["from", "to"],
            )
            .expect("static metric definition"),
            migrate_lazy_passwords: counter(
                "imbridge_migrate_lazy_passwords_total",
                "Logins of users copied without a password, by provider and outcome: set, refused, error, source_missing.",
                &["provider", "outcome"],
            ),
            media: MediaCounters::default(),
        };
        for c in [
            Box::new(m.requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.request_duration.clone()),
            Box::new(m.provider_duration.clone()),
            Box::new(m.overhead_duration.clone()),
            Box::new(m.in_flight.clone()),
            Box::new(m.request_size.clone()),
            Box::new(m.response_size.clone()),
            Box::new(m.connections.clone()),
            Box::new(m.connections_rejected.clone()),
            Box::new(m.timeouts.clone()),
            Box::new(m.admin_unauthorized.clone()),
            Box::new(m.logins_throttled.clone()),
            Box::new(m.provider_calls.clone()),
            Box::new(m.provider_call_duration.clone()),
            Box::new(m.token_cache.clone()),
            Box::new(m.provider_circuit_state.clone()),
            Box::new(m.provider_rejections.clone()),
            Box::new(m.provider_in_flight.clone()),
            Box::new(m.reloads.clone()),
            Box::new(m.last_reload.clone()),
            Box::new(m.last_reload_ok.clone()),
            Box::new(m.migration_writes.clone()),
            Box::new(m.migration_applied.clone()),
            Box::new(m.migration_shadow.clone()),
            Box::new(m.migration_calls.clone()),
            Box::new(m.migration_outbox.clone()),
            Box::new(m.migration_oldest.clone()),
            Box::new(m.migration_percent.clone()),
            Box::new(m.migrate_entities.clone()),
            Box::new(m.migrate_errors.clone()),
            Box::new(m.migrate_running.clone()),
            Box::new(m.migrate_lazy_passwords.clone()),
            Box::new(m.media.refused.clone()),
            Box::new(m.media.orphans_removed.clone()),
            Box::new(m.media.orphan_bytes_removed.clone()),
            Box::new(m.media.missing_files.clone()),
        ] {
            m.registry.register(c).expect("unique metric names");
        }
        m.last_reload
            .set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
        m.last_reload_ok.set(1);
        m
    }

    /// Registers counters kept elsewhere (the store's tokens); counters
    /// registered already are left as they are.
    pub fn adopt(&self, collectors: Vec<Box<dyn prometheus::core::Collector>>) {
        for c in collectors {
            if let Err(e) = self.registry.register(c) {
                tracing::debug!(error = %e, "metric not registered again");
            }
        }
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
