//! `guestpass`: parse the command line, set up logging, load config, build, run.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use guestpass::app::App;
use guestpass::app::Runtime;
use guestpass::cli::{Cli, Command};
use guestpass::config::{Config, ConfigError};
use guestpass::server::{serve_runtime, shutdown_signal, ServerSettings};
use std::path::PathBuf;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("guestpass: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::CheckConfig { config } => match Config::load(&config) {
            Ok(_) => {
                println!("{}: OK", config.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(ConfigError::Invalid(problems)) => {
                eprintln!("{}: {} problem(s):", config.display(), problems.len());
                for p in problems {
                    eprintln!("  - {p}");
                }
                Ok(ExitCode::FAILURE)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Presign(args) => {
            let mut config = match &args.config {
                Some(path) => Config::load(path)?,
                None => Config::embedded_default("guestpass-data".into(), "127.0.0.1:8080"),
            };
            if let Some(url) = &args.public_url {
                config.server.public_url = Some(url.clone());
            }
            let (bucket, key) = guestpass::presign::parse_s3_url(&args.object)?;
            let restrictions = restrictions_from(&args)?;
            let grant = guestpass::presign::Grant {
                method: &args.method,
                bucket,
                key,
                expires_secs: args.expires.0.as_secs(),
                access_key_id: args.access_key_id.as_deref(),
                restrictions: &restrictions,
                secret: None,
                now: time::OffsetDateTime::now_utc(),
            };
            if args.post {
                let form = guestpass::presign::presign_post(&config, &grant)?;
                let fields: serde_json::Map<String, serde_json::Value> = form
                    .fields
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                println!("{}", serde_json::json!({ "url": form.url, "fields": fields }));
            } else {
                println!("{}", guestpass::presign::presign(&config, &grant)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Loadtest(args) => Ok(guestpass::loadtest::main(args)?),
        Command::Serve {
            config,
            data_dir,
            listen,
            log_format,
        } => {
            let (loaded, embedded_default) = match &config {
                Some(path) => (Config::load(path)?, false),
                None => (Config::embedded_default(data_dir, &listen), true),
            };
            guestpass::telemetry::init(log_format.unwrap_or(loaded.log.format), &loaded.log.level);
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(serve_main(loaded, config, embedded_default))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The restrictions `guestpass presign` was asked to sign in.
fn restrictions_from(
    args: &guestpass::cli::PresignArgs,
) -> anyhow::Result<guestpass::policy::restrictions::Restrictions> {
    use guestpass::policy::restrictions::{Restrictions, CONTENT_TYPE, IP, MAX_SIZE, MIN_SIZE};
    let mut query: Vec<(String, String)> = Vec::new();
    if let Some(s) = args.max_size {
        query.push((MAX_SIZE.into(), s.0.to_string()));
    }
    if let Some(s) = args.min_size {
        query.push((MIN_SIZE.into(), s.0.to_string()));
    }
    if !args.content_type.is_empty() {
        query.push((CONTENT_TYPE.into(), args.content_type.join(",")));
    }
    if !args.ip.is_empty() {
        query.push((IP.into(), args.ip.join(",")));
    }
    Restrictions::extract(&mut query).map_err(|e| anyhow::anyhow!("{}", e.message()))
}

async fn serve_main(config: Config, config_path: Option<PathBuf>, embedded_default: bool) -> anyhow::Result<()> {
    let app = App::build(&config).await?;
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let settings = ServerSettings::from_app(&app);
    if embedded_default {
        seed_demo(&app).await?;
    }
    let runtime = Runtime::new(Arc::clone(&app), config_path.clone())?;
    if let Some(admin) = &config.admin {
        let admin_listener = tokio::net::TcpListener::bind(&admin.listen)
            .await
            .with_context(|| format!("cannot listen on {} (admin)", admin.listen))?;
        tracing::info!(listen = %admin_listener.local_addr()?, "admin listener is serving");
        tokio::spawn(guestpass::server::admin::serve(runtime.clone(), admin_listener));
    }
    if config_path.is_some() {
        tokio::spawn(guestpass::server::watch::run(
            runtime.clone(),
            std::time::Duration::from_secs(2),
        ));
    }
    tracing::info!(
        listen = %listener.local_addr()?,
        tls = config.server.tls.is_some(),
        upstream = ?app.upstream(),
        "guestpass is serving"
    );
    if embedded_default {
        print_demo(&config)?;
    }
    drop(app);
    serve_runtime(runtime, listener, settings, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Creates the demo bucket and a first object through the embedded store's own signed API.
async fn seed_demo(app: &App) -> anyhow::Result<()> {
    use http::Method;
    let up = app.upstream();
    let resp = up.send_simple(Method::PUT, "demo", None, bytes::Bytes::new()).await?;
    if !(resp.status().is_success() || resp.status() == http::StatusCode::CONFLICT) {
        anyhow::bail!("embedded store refused to create the demo bucket: {}", resp.status());
    }
    let resp = up
        .send_simple(Method::HEAD, "demo", Some("hello.txt"), bytes::Bytes::new())
        .await?;
    if resp.status() == http::StatusCode::NOT_FOUND {
        let body =
            bytes::Bytes::from_static(b"Hello from guestpass: this object came through a verified pre-signed URL.\n");
        let resp = up.send_simple(Method::PUT, "demo", Some("hello.txt"), body).await?;
        anyhow::ensure!(
            resp.status().is_success(),
            "embedded store refused the demo object: {}",
            resp.status()
        );
    }
    Ok(())
}

fn print_demo(config: &Config) -> anyhow::Result<()> {
    let now = time::OffsetDateTime::now_utc();
    let none = guestpass::policy::restrictions::Restrictions::default();
    let grant = |method, key| guestpass::presign::Grant {
        method,
        bucket: "demo",
        key,
        expires_secs: 3600,
        access_key_id: None,
        restrictions: &none,
        secret: None,
        now,
    };
    let get = guestpass::presign::presign(config, &grant("GET", "hello.txt"))?;
    let put = guestpass::presign::presign(config, &grant("PUT", "upload.txt"))?;
    println!(
        "\nguestpass is running on {listen} in front of its embedded store (bucket \"demo\").\n\
         Demo credential: access key id {ak} (secret in README.md; never use it in production).\n\n\
         Fetch an object with a pre-signed URL (valid 1 hour):\n  curl '{get}'\n\n\
         Upload one:\n  curl -T README.md '{put}'\n\n\
         Make more: guestpass presign{url_flag} --method GET --expires 15m s3://demo/hello.txt\n",
        listen = config.server.listen,
        url_flag = if config.server.listen == "127.0.0.1:8080" {
            String::new()
        } else {
            format!(" --public-url http://{}", config.server.listen)
        },
        ak = guestpass::config::DEMO_ACCESS_KEY_ID,
    );
    Ok(())
}
