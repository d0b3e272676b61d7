//! guestpass: a signature-verifying S3 gateway. Clients hold pre-signed URLs (or sign
//! with their own S3 client); guestpass verifies each request exactly as AWS S3 would,
//! enforces policy, re-signs it with its own upstream credentials and streams it to the
//! store.
//!
//! The modules follow one request: `server` -> `service` -> `addressing` -> `auth` ->
//! `policy` -> `upstream`, with `response` rendering errors.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addressing;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod loadtest;
pub mod metrics;
pub mod policy;
pub mod presign;
pub mod response;
pub mod secret;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod upstream;
