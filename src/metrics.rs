//! Prometheus metrics of the gateway, served on the admin listener at `/metrics`.
//!
//! Label sets are bounded: methods are the handful S3 uses (anything else is `OTHER`),
//! outcomes a fixed list, error codes the gateway's own enum plus `upstream` for codes
//! the store sent.

use std::sync::LazyLock;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// How a request ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types, missing_docs)]
pub enum Outcome {
    ok,
    client_error,
    auth_error,
    policy_error,
    upstream_error,
    internal_error,
    upstream_status,
}

/// Labels of `guestpass_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method (bounded).
    pub method: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// The gateway's S3 error code, or "" on success / upstream answers.
    pub code: &'static str,
}

/// Labels of `guestpass_config_reloads_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `success` or `failure`.
    pub result: &'static str,
}

/// Every metric.
pub struct Metrics {
    registry: Registry,
    /// Requests by method, outcome and error code.
    pub requests: Family<RequestLabels, Counter>,
    /// Time to verify a signature, seconds.
    pub verify_seconds: Histogram,
    /// Time until the upstream's response head, seconds.
    pub upstream_seconds: Histogram,
    /// Request body bytes received.
    pub bytes_in: Counter,
    /// Response body bytes sent.
    pub bytes_out: Counter,
    /// Requests being served.
    pub in_flight: Gauge,
    /// Upstream connections opened.
    pub upstream_connections_opened: Counter,
    /// Upstream connections open now (pooled or in use).
    pub upstream_connections_open: Gauge,
    /// Signing-key cache hits.
    pub key_cache_hits: Counter,
    /// Signing-key cache misses (a key derived).
    pub key_cache_misses: Counter,
    /// Config reloads by result.
    pub reloads: Family<ReloadLabels, Counter>,
    /// Client connections open now.
    pub connections_open: Gauge,
}

/// The process-wide metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("guestpass");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests by method, outcome and S3 error code",
            requests.clone(),
        );
        let verify_seconds = Histogram::new(exponential_buckets(0.000_001, 2.0, 20));
        registry.register("verify_seconds", "Signature verification time", verify_seconds.clone());
        let upstream_seconds = Histogram::new(exponential_buckets(0.000_1, 2.0, 20));
        registry.register(
            "upstream_seconds",
            "Time until the upstream answered with a response head",
            upstream_seconds.clone(),
        );
        let bytes_in = Counter::default();
        registry.register("request_body_bytes", "Request body bytes received", bytes_in.clone());
        let bytes_out = Counter::default();
        registry.register("response_body_bytes", "Response body bytes sent", bytes_out.clone());
        let in_flight = Gauge::default();
        registry.register("in_flight_requests", "Requests being served", in_flight.clone());
        let upstream_connections_opened = Counter::default();
        registry.register(
            "upstream_connections_opened",
            "Upstream connections opened",
            upstream_connections_opened.clone(),
        );
        let upstream_connections_open = Gauge::default();
        registry.register(
            "upstream_connections_open",
            "Upstream connections open (pooled or in use)",
            upstream_connections_open.clone(),
        );
        let key_cache_hits = Counter::default();
        registry.register(
            "signing_key_cache_hits",
            "Signing keys served from the cache",
            key_cache_hits.clone(),
        );
        let key_cache_misses = Counter::default();
        registry.register(
            "signing_key_cache_misses",
            "Signing keys derived",
            key_cache_misses.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register("config_reloads", "Configuration reloads by result", reloads.clone());
        let connections_open = Gauge::default();
        registry.register(
            "client_connections_open",
            "Client connections open",
            connections_open.clone(),
        );
        Metrics {
            registry,
            requests,
            verify_seconds,
            upstream_seconds,
            bytes_in,
            bytes_out,
            in_flight,
            upstream_connections_opened,
            upstream_connections_open,
            key_cache_hits,
            key_cache_misses,
            reloads,
            connections_open,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// A method name from a bounded set.
pub fn method_label(m: &http::Method) -> &'static str {
    match *m {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::PUT => "PUT",
        http::Method::POST => "POST",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
