//! config.example.toml is the documentation of the configuration: it must document every
//! key of the schema, load and validate as shipped, and `guestpass check-config` must accept
//! it and explain each problem of a broken copy.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use guestpass::config::Config;

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml")
}

fn example_text() -> String {
    std::fs::read_to_string(example_path()).expect("config.example.toml is readable")
}

/// The environment variables the example names (`*_env` keys that are not commented out),
/// each with an obviously fake value long enough to pass validation.
fn example_env(config: &Config) -> Vec<(String, String)> {
    let mut names: Vec<&str> = config
        .credentials
        .iter()
        .filter_map(|c| c.secret_access_key_env.as_deref())
        .collect();
    names.extend(config.upstream.access_key_id_env.as_deref());
    names.extend(config.upstream.secret_access_key_env.as_deref());
    names
        .into_iter()
        .map(|n| (n.to_owned(), format!("fake-value-for-{n}")))
        .collect()
}

/// Runs `guestpass check-config` on `path` with exactly `set` of the `example` variables
/// in its environment (another test may have them set in this process for a moment).
fn check_config(path: &Path, example: &[(String, String)], set: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_guestpass"));
    cmd.arg("check-config").arg("--config").arg(path);
    cmd.env_remove("GUESTPASS_CONFIG");
    for (k, v) in example {
        if set {
            cmd.env(k, v);
        } else {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("the guestpass binary runs")
}

/// The fields serde expects in one table, read from the `deny_unknown_fields` error that an
/// unknown key provokes ("expected one of `a`, `b`" or "expected `a` or `b`").
fn schema_fields(table_header: &str) -> Vec<String> {
    let text = format!("{table_header}\nzz_not_a_key = 1\n");
    let err = Config::parse(&text).expect_err("an unknown key is an error");
    let expected = err
        .split_once("expected")
        .unwrap_or_else(|| panic!("no field list in: {err}"))
        .1;
    let fields: Vec<String> = expected.split('`').skip(1).step_by(2).map(str::to_owned).collect();
    assert!(!fields.is_empty(), "no field list in: {err}");
    fields
}

/// A line with any leading `#` comment markers removed: commented-out alternatives count as
/// documented, they are just not active.
fn uncommented(line: &str) -> &str {
    line.trim_start().trim_start_matches('#').trim_start()
}

/// The header (`[name]` or `[[name]]`) under which the example documents the top-level key
/// `name`, and the lines of that section: from its first header, active or commented out,
/// up to the next active header of another table.
fn section<'a>(text: &'a str, name: &str) -> Option<(String, Vec<&'a str>)> {
    let headers = [format!("[{name}]"), format!("[[{name}]]")];
    let mut lines = text
        .lines()
        .skip_while(|l| !headers.iter().any(|h| uncommented(l) == h));
    let header = uncommented(lines.next()?).to_owned();
    // Sub-tables such as `[[credentials.scopes]]` belong to their table's section.
    let sub_tables = [format!("[{name}."), format!("[[{name}.")];
    let body = lines
        .take_while(|l| {
            !l.starts_with('[') || headers.iter().any(|h| l == h) || sub_tables.iter().any(|s| l.starts_with(s))
        })
        .collect();
    Some((header, body))
}

#[test]
fn example_documents_every_key_of_the_schema() {
    let text = example_text();
    let mut missing = Vec::new();
    for table in schema_fields("") {
        let Some((header, lines)) = section(&text, &table) else {
            missing.push(format!("{table} (no [{table}] or [[{table}]] section)"));
            continue;
        };
        for field in schema_fields(&header) {
            let documented = lines.iter().any(|line| {
                let line = uncommented(line);
                line.strip_prefix(field.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
                    || line.starts_with(&format!("[{table}.{field}]"))
                    || line.starts_with(&format!("[[{table}.{field}]]"))
            });
            if !documented {
                missing.push(format!("{header} {field}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys of the schema not documented in config.example.toml: {missing:?}"
    );
}

#[test]
fn example_loads_and_validates() {
    let text = example_text();
    let parsed = Config::parse(&text).expect("config.example.toml parses");
    assert_eq!(parsed.upstream.endpoint.as_deref(), Some("https://s3.filebase.com"));
    assert_eq!(parsed.upstream.region, "us-east-1");
    let env = example_env(&parsed);
    assert!(
        parsed.upstream.access_key_id_env.is_some() && parsed.upstream.secret_access_key_env.is_some(),
        "the example takes the upstream keys from the environment"
    );
    assert!(
        parsed.upstream.secret_access_key.is_none() && parsed.credentials.iter().all(|c| c.secret_access_key.is_none()),
        "the example writes no secret literally"
    );

    // The only test in this binary that touches the process environment.
    for (k, v) in &env {
        std::env::set_var(k, v);
    }
    let loaded = Config::load(&example_path());
    for (k, _) in &env {
        std::env::remove_var(k);
    }
    let loaded = loaded.unwrap_or_else(|e| panic!("config.example.toml does not load: {e}"));
    assert!(!loaded.credentials.is_empty());
}

#[test]
fn check_config_accepts_the_example_and_explains_broken_copies() {
    let parsed = Config::parse(&example_text()).expect("config.example.toml parses");
    let env = example_env(&parsed);

    let ok = check_config(&example_path(), &env, true);
    assert!(
        ok.status.success(),
        "check-config refused the example: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("OK"));

    let dir = tempfile::tempdir().expect("tempdir");

    // Validation problems are all reported in one run.
    let text = example_text();
    let invalid = replace_line(&text, "max_expires = ", "max_expires = \"8d\"");
    let invalid = replace_line(&invalid, "secret_access_key_env = \"GUESTPASS_", "");
    let invalid_path = dir.path().join("invalid.toml");
    std::fs::write(&invalid_path, &invalid).expect("write");
    let out = check_config(&invalid_path, &env, true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted a broken config: {stderr}");
    assert!(stderr.contains("2 problem(s)"), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("- auth.max_expires") && l.contains("8days")),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("- credentials[0]") && l.contains("secret_access_key")),
        "{stderr}"
    );

    // An unknown key stops parsing; it is named with its line.
    let unknown = replace_line(&text, "clock_skew = ", "clock_skwe = \"15m\"");
    let unknown_path = dir.path().join("unknown.toml");
    std::fs::write(&unknown_path, &unknown).expect("write");
    let out = check_config(&unknown_path, &env, true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted an unknown key: {stderr}");
    assert!(stderr.contains("unknown field `clock_skwe`"), "{stderr}");
    assert!(stderr.contains("line "), "{stderr}");

    // The secret-free example with its variables unset names each missing variable.
    let out = check_config(&example_path(), &env, false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for (name, _) in &env {
        assert!(stderr.contains(name.as_str()), "{name} not named: {stderr}");
    }
}

/// `text` with the one active (uncommented) line starting with `prefix` replaced.
fn replace_line(text: &str, prefix: &str, with: &str) -> String {
    let mut hits = 0;
    let out: Vec<&str> = text
        .lines()
        .map(|line| {
            if line.starts_with(prefix) {
                hits += 1;
                with
            } else {
                line
            }
        })
        .collect();
    assert_eq!(hits, 1, "expected one line starting with {prefix:?}");
    out.join("\n") + "\n"
}
