//! The deployment files, checked for the mistakes that otherwise show only at deploy time.
//!
//! Every YAML document under `deploy/k8s` is parsed and checked at the schema level: the
//! fields each kind needs, selectors that select the pods they mean, Service and
//! NetworkPolicy ports that exist, the HPA's and PDB's targets, hardened security contexts.
//! The guestpass configuration inside each ConfigMap is a real one: with its `*_file`
//! secrets written to temporary files it passes `Config::parse` and `validate()`, its
//! listen ports are the containers' ports, the probes ask the admin port, the secrets it
//! names are keys of the mounted Secret, and the pod waits longer than it drains. The
//! Dockerfile builds the same static musl target as `scripts/build-musl`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use guestpass::config::Config;

const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";
/// The uid the image runs as (distroless's and our Dockerfile's `nonroot`).
const NONROOT_UID: i64 = 65532;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One YAML document and the file it came from.
struct Doc {
    file: PathBuf,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }

    fn at(&self) -> String {
        format!(
            "{} ({} {})",
            self.file.strip_prefix(root()).unwrap_or(&self.file).display(),
            self.kind(),
            self.name()
        )
    }
}

/// YAML as JSON values, which are easier to walk. Keys become strings.
fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::String(r.clone()), Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => panic!("unexpected YAML key {other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Null => Value::Null,
        Yaml::Alias(_) | Yaml::BadValue => panic!("unsupported YAML node {y:?}"),
    }
}

/// The example folders under deploy/k8s, each a set of manifests applied together.
fn examples() -> BTreeMap<String, Vec<Doc>> {
    let dir = root().join("deploy/k8s");
    let mut out = BTreeMap::new();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/k8s exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        files.sort();
        let mut docs = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let parsed = YamlLoader::load_from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", file.display()));
            for y in parsed.iter().filter(|y| !matches!(y, Yaml::Null)) {
                docs.push(Doc {
                    file: file.clone(),
                    value: to_json(y),
                });
            }
        }
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        out.insert(name, docs);
    }
    // Folders of other kinds of YAML would be missed silently: say which are expected.
    assert_eq!(
        out.keys().map(String::as_str).collect::<Vec<_>>(),
        ["sidecar", "standalone"],
        "deploy/k8s holds exactly these examples; a new one is added here"
    );
    out
}

fn find<'a>(docs: &'a [Doc], kind: &str, name: &str) -> Option<&'a Doc> {
    docs.iter().find(|d| d.kind() == kind && d.name() == name)
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether every label of `selector` (a `matchLabels` map) is on `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    match selector.as_object() {
        Some(sel) if !sel.is_empty() => sel.iter().all(|(k, v)| labels.get(k) == Some(v)),
        _ => false,
    }
}

fn pod_spec(deployment: &Doc) -> &Value {
    &deployment.value["spec"]["template"]["spec"]
}

fn pod_labels(deployment: &Doc) -> &Value {
    &deployment.value["spec"]["template"]["metadata"]["labels"]
}

/// Init containers (sidecars among them) and containers.
fn containers(pod: &Value) -> Vec<&Value> {
    ["initContainers", "containers"]
        .iter()
        .filter_map(|k| pod[*k].as_array())
        .flatten()
        .collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The container's command line (command, then args).
fn command_line(c: &Value) -> Vec<&str> {
    let mut line = strings(&c["command"]);
    line.extend(strings(&c["args"]));
    line
}

fn is_guestpass(c: &Value) -> bool {
    c["image"].as_str().is_some_and(|i| i.contains("guestpass")) && command_line(c).contains(&"serve")
}

/// A port given by number or by a container port's name, as a number.
fn resolve_port(port: &Value, pod_containers: &[&Value]) -> Option<i64> {
    if let Some(n) = port.as_i64() {
        return Some(n);
    }
    let name = port.as_str()?;
    pod_containers
        .iter()
        .filter_map(|c| c["ports"].as_array())
        .flatten()
        .find(|p| p["name"].as_str() == Some(name))
        .and_then(|p| p["containerPort"].as_i64())
}

fn container_ports(pod_containers: &[&Value]) -> BTreeSet<i64> {
    pod_containers
        .iter()
        .filter_map(|c| c["ports"].as_array())
        .flatten()
        .filter_map(|p| p["containerPort"].as_i64())
        .collect()
}

/// The keys of a Secret or ConfigMap (`data` and `stringData`).
fn keys(doc: &Doc) -> BTreeSet<String> {
    ["data", "stringData"]
        .iter()
        .filter_map(|k| doc.value[*k].as_object())
        .flat_map(|m| m.keys().cloned())
        .collect()
}

fn expected_api_version(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Deployment" => "apps/v1",
        "Service" | "ConfigMap" | "Secret" => "v1",
        "HorizontalPodAutoscaler" => "autoscaling/v2",
        "PodDisruptionBudget" => "policy/v1",
        "NetworkPolicy" => "networking.k8s.io/v1",
        _ => return None,
    })
}

/// The Deployments of a folder whose pods `selector` selects.
fn selected<'a>(docs: &'a [Doc], selector: &Value) -> Vec<&'a Doc> {
    docs.iter()
        .filter(|d| d.kind() == "Deployment" && selects(selector, pod_labels(d)))
        .collect()
}

#[test]
fn every_manifest_parses_and_has_the_fields_its_kind_needs() {
    let examples = examples();
    let mut problems = Vec::new();
    let mut bad = |at: String, what: String| problems.push(format!("{at}: {what}"));
    for (folder, docs) in &examples {
        assert!(!docs.is_empty(), "deploy/k8s/{folder} has no manifests");
        let mut seen = BTreeSet::new();
        for d in docs {
            let at = d.at();
            let api = d.value["apiVersion"].as_str().unwrap_or("");
            match expected_api_version(d.kind()) {
                Some(want) if want == api => {}
                Some(want) => bad(at.clone(), format!("apiVersion {api:?}, expected {want:?}")),
                None => bad(at.clone(), "a kind these checks do not know; add its checks".to_owned()),
            }
            if !is_dns_label(d.name()) {
                bad(at.clone(), format!("metadata.name {:?} is not a DNS label", d.name()));
            }
            if !seen.insert((d.kind().to_owned(), d.name().to_owned())) {
                bad(at.clone(), "defined twice".to_owned());
            }
            let spec = &d.value["spec"];
            match d.kind() {
                "Deployment" => {
                    let selector = &spec["selector"]["matchLabels"];
                    if !selects(selector, pod_labels(d)) {
                        bad(
                            at.clone(),
                            "spec.selector.matchLabels do not match the template's labels".into(),
                        );
                    }
                    if spec["replicas"].as_i64().unwrap_or(1) < 2 {
                        bad(at.clone(), "fewer than 2 replicas: one node drain is an outage".into());
                    }
                    let pod = pod_spec(d);
                    let cs = containers(pod);
                    if pod["containers"].as_array().is_none_or(|a| a.is_empty()) {
                        bad(at.clone(), "no containers".into());
                    }
                    let volumes: BTreeMap<&str, &Value> = pod["volumes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| Some((v["name"].as_str()?, v)))
                        .collect();
                    for v in volumes.values() {
                        if let Some(name) = v["configMap"]["name"].as_str() {
                            if find(docs, "ConfigMap", name).is_none() {
                                bad(
                                    at.clone(),
                                    format!("volume uses ConfigMap {name}, which is not defined here"),
                                );
                            }
                        }
                        if let Some(name) = v["secret"]["secretName"].as_str() {
                            if find(docs, "Secret", name).is_none() {
                                bad(
                                    at.clone(),
                                    format!("volume uses Secret {name}, which is not defined here"),
                                );
                            }
                        }
                    }
                    let mut names = BTreeSet::new();
                    for c in &cs {
                        let cname = c["name"].as_str().unwrap_or("");
                        if !is_dns_label(cname) || !names.insert(cname) {
                            bad(
                                at.clone(),
                                format!("container name {cname:?} is missing, invalid or repeated"),
                            );
                        }
                        if c["image"].as_str().is_none_or(str::is_empty) {
                            bad(at.clone(), format!("container {cname} has no image"));
                        }
                        for m in c["volumeMounts"].as_array().into_iter().flatten() {
                            let v = m["name"].as_str().unwrap_or("");
                            if !volumes.contains_key(v) {
                                bad(at.clone(), format!("container {cname} mounts undefined volume {v:?}"));
                            }
                            if !m["mountPath"].as_str().is_some_and(|p| p.starts_with('/')) {
                                bad(
                                    at.clone(),
                                    format!("container {cname}: mount {v} has no absolute mountPath"),
                                );
                            }
                        }
                        for e in c["env"].as_array().into_iter().flatten() {
                            let r = &e["valueFrom"]["secretKeyRef"];
                            if let (Some(name), Some(key)) = (r["name"].as_str(), r["key"].as_str()) {
                                match find(docs, "Secret", name) {
                                    Some(s) if keys(s).contains(key) => {}
                                    _ => bad(
                                        at.clone(),
                                        format!("env of {cname} reads Secret {name} key {key}, which is not defined"),
                                    ),
                                }
                            }
                        }
                        for p in c["ports"].as_array().into_iter().flatten() {
                            if !p["containerPort"].as_i64().is_some_and(|n| (1..=65535).contains(&n)) {
                                bad(
                                    at.clone(),
                                    format!("container {cname}: a port without a valid containerPort"),
                                );
                            }
                        }
                    }
                }
                "Service" => {
                    let targets = selected(docs, &spec["selector"]);
                    if targets.is_empty() {
                        bad(at.clone(), "spec.selector selects no Deployment's pods here".into());
                    }
                    let ports = spec["ports"].as_array().cloned().unwrap_or_default();
                    if ports.is_empty() {
                        bad(at.clone(), "no ports".into());
                    }
                    for t in &targets {
                        let cs = containers(pod_spec(t));
                        let open = container_ports(&cs);
                        for p in &ports {
                            if p["port"].as_i64().is_none() {
                                bad(at.clone(), format!("port {p} has no number"));
                            }
                            let target = if p["targetPort"].is_null() {
                                &p["port"]
                            } else {
                                &p["targetPort"]
                            };
                            match resolve_port(target, &cs) {
                                Some(n) if open.contains(&n) => {}
                                _ => bad(
                                    at.clone(),
                                    format!("targetPort {target} is no containerPort of {}", t.name()),
                                ),
                            }
                        }
                    }
                }
                "HorizontalPodAutoscaler" => {
                    let target = &spec["scaleTargetRef"];
                    let name = target["name"].as_str().unwrap_or("");
                    if target["kind"] != "Deployment" || target["apiVersion"] != "apps/v1" {
                        bad(at.clone(), "scaleTargetRef is not an apps/v1 Deployment".into());
                    }
                    let min = spec["minReplicas"].as_i64().unwrap_or(1);
                    let max = spec["maxReplicas"].as_i64().unwrap_or(0);
                    if min < 2 || max < min {
                        bad(
                            at.clone(),
                            format!("minReplicas {min}, maxReplicas {max}: want 2 <= min <= max"),
                        );
                    }
                    let cpu = spec["metrics"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|m| m["type"] == "Resource" && m["resource"]["name"] == "cpu");
                    if !cpu {
                        bad(at.clone(), "no CPU metric".into());
                    }
                    match find(docs, "Deployment", name) {
                        None => bad(at.clone(), format!("scaleTargetRef names {name:?}, no Deployment here")),
                        Some(dep) => {
                            // Utilization is relative to requests: every container needs one.
                            for c in containers(pod_spec(dep)) {
                                if c["resources"]["requests"]["cpu"].is_null() {
                                    bad(
                                        at.clone(),
                                        format!("container {} of {name} has no CPU request", c["name"]),
                                    );
                                }
                            }
                        }
                    }
                }
                "PodDisruptionBudget" => {
                    let targets = selected(docs, &spec["selector"]["matchLabels"]);
                    if targets.is_empty() {
                        bad(at.clone(), "spec.selector selects no Deployment's pods here".into());
                    }
                    let min = spec["minAvailable"].as_i64();
                    if min.is_none() && spec["maxUnavailable"].is_null() {
                        bad(at.clone(), "neither minAvailable nor maxUnavailable".into());
                    }
                    for t in targets {
                        let replicas = t.value["spec"]["replicas"].as_i64().unwrap_or(1);
                        if min.is_some_and(|m| m >= replicas) {
                            bad(
                                at.clone(),
                                format!("minAvailable {min:?} >= {replicas} replicas: no node could ever be drained"),
                            );
                        }
                    }
                }
                "NetworkPolicy" => {
                    let targets = selected(docs, &spec["podSelector"]["matchLabels"]);
                    if targets.is_empty() {
                        bad(at.clone(), "spec.podSelector selects no Deployment's pods here".into());
                    }
                    for t in targets {
                        let cs = containers(pod_spec(t));
                        let open = container_ports(&cs);
                        for rule in spec["ingress"].as_array().into_iter().flatten() {
                            for p in rule["ports"].as_array().into_iter().flatten() {
                                match resolve_port(&p["port"], &cs) {
                                    Some(n) if open.contains(&n) => {}
                                    _ => bad(
                                        at.clone(),
                                        format!("ingress port {} is no containerPort of {}", p["port"], t.name()),
                                    ),
                                }
                            }
                        }
                    }
                }
                "ConfigMap" | "Secret" if keys(d).is_empty() => bad(at.clone(), "no data".into()),
                _ => {}
            }
        }
    }
    let standalone: BTreeSet<&str> = examples["standalone"].iter().map(Doc::kind).collect();
    for kind in [
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
        "Secret",
    ] {
        if !standalone.contains(kind) {
            problems.push(format!("deploy/k8s/standalone has no {kind}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

/// A security-context setting: the container's, else the pod's.
fn effective<'a>(container: &'a Value, pod: &'a Value, key: &str) -> &'a Value {
    let c = &container["securityContext"][key];
    if c.is_null() {
        &pod["securityContext"][key]
    } else {
        c
    }
}

#[test]
fn every_container_runs_non_root_read_only_and_unprivileged() {
    let mut problems = Vec::new();
    for docs in examples().values() {
        for d in docs.iter().filter(|d| d.kind() == "Deployment") {
            let pod = pod_spec(d);
            let at = d.at();
            for key in ["hostNetwork", "hostPID", "hostIPC"] {
                if pod[key] == true {
                    problems.push(format!("{at}: {key} is on"));
                }
            }
            if pod["automountServiceAccountToken"] != false {
                problems.push(format!("{at}: the pods get a service-account token they never use"));
            }
            for c in containers(pod) {
                let name = c["name"].as_str().unwrap_or("?");
                let sc = &c["securityContext"];
                let mut want = |ok: bool, what: &str| {
                    if !ok {
                        problems.push(format!("{at}: container {name}: {what}"));
                    }
                };
                want(effective(c, pod, "runAsNonRoot") == true, "runAsNonRoot is not true");
                let uid = effective(c, pod, "runAsUser").as_i64();
                want(uid.is_some_and(|u| u != 0), "runAsUser is not a non-zero uid");
                if is_guestpass(c) {
                    want(
                        uid == Some(NONROOT_UID),
                        "guestpass runs as uid 65532, the image's user",
                    );
                }
                want(
                    sc["readOnlyRootFilesystem"] == true,
                    "readOnlyRootFilesystem is not true",
                );
                want(
                    sc["allowPrivilegeEscalation"] == false,
                    "allowPrivilegeEscalation is not false",
                );
                want(sc["privileged"] != true, "privileged");
                want(
                    strings(&sc["capabilities"]["drop"]).contains(&"ALL"),
                    "capabilities do not drop ALL",
                );
                want(sc["capabilities"]["add"].is_null(), "adds capabilities");
                want(
                    effective(c, pod, "seccompProfile")["type"] == "RuntimeDefault",
                    "seccompProfile is not RuntimeDefault",
                );
                want(
                    !c["resources"]["requests"]["memory"].is_null() && !c["resources"]["limits"]["memory"].is_null(),
                    "no memory request and limit",
                );
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

/// Where a file the container reads comes from: the volume mounted at a parent of `path`.
fn mounted<'a>(container: &'a Value, pod: &'a Value, path: &str) -> Option<(&'a Value, &'a Value, String)> {
    container["volumeMounts"]
        .as_array()?
        .iter()
        .filter_map(|m| {
            let at = m["mountPath"].as_str()?.trim_end_matches('/');
            let rest = path.strip_prefix(at)?.strip_prefix('/')?;
            let volume = pod["volumes"].as_array()?.iter().find(|v| v["name"] == m["name"])?;
            Some((m, volume, rest.to_owned()))
        })
        // The deepest mount wins, as in the container.
        .max_by_key(|(m, _, _)| m["mountPath"].as_str().map_or(0, str::len))
}

/// The port of a `host:port` listen address, and whether the host is all interfaces.
fn listen_port(listen: &str) -> (i64, bool) {
    let addr: SocketAddr = listen
        .parse()
        .unwrap_or_else(|_| panic!("{listen:?} is not an address"));
    (i64::from(addr.port()), addr.ip().is_unspecified())
}

/// Every file the configuration reads secrets or certificates from.
fn secret_files(config: &Config) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for c in &config.credentials {
        files.extend(c.secret_access_key_file.clone());
        files.extend(c.previous_secret_access_key_file.clone());
    }
    for i in &config.issuers {
        files.extend(i.token_file.clone());
    }
    files.extend(config.upstream.secret_access_key_file.clone());
    if let Some(tls) = &config.server.tls {
        files.push(tls.cert_file.clone());
        files.push(tls.key_file.clone());
    }
    files
}

#[test]
fn the_embedded_configs_are_real_configs_whose_ports_probes_and_secrets_match() {
    let mut checked = 0;
    for (folder, docs) in &examples() {
        for d in docs.iter().filter(|d| d.kind() == "Deployment") {
            let pod = pod_spec(d);
            let all = containers(pod);
            for c in all.iter().copied().filter(|c| is_guestpass(c)) {
                let at = format!("{} container {}", d.at(), c["name"]);
                let line = command_line(c);
                let config_path = line
                    .iter()
                    .position(|a| *a == "--config")
                    .and_then(|i| line.get(i + 1))
                    .unwrap_or_else(|| panic!("{at}: no --config in {line:?}"));

                // The config: a key of the ConfigMap mounted as a folder above it.
                let (mount, volume, key) =
                    mounted(c, pod, config_path).unwrap_or_else(|| panic!("{at}: nothing is mounted at {config_path}"));
                assert!(
                    mount["subPath"].is_null(),
                    "{at}: a subPath mount never sees ConfigMap updates, so the config would not reload"
                );
                let cm_name = volume["configMap"]["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: {config_path} is not from a ConfigMap"));
                let cm = find(docs, "ConfigMap", cm_name).unwrap();
                let text = cm.value["data"][&key]
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: ConfigMap {cm_name} has no key {key}"));
                let config =
                    Config::parse(text).unwrap_or_else(|e| panic!("{at}: {cm_name}/{key} does not parse: {e}"));

                // Each secret file is a key of the Secret mounted above it. Written to a
                // temporary folder, the config validates.
                let tmp = tempfile::tempdir().unwrap();
                let mut real_text = text.to_owned();
                for file in secret_files(&config) {
                    let file = file.to_str().unwrap();
                    let (m, v, key) =
                        mounted(c, pod, file).unwrap_or_else(|| panic!("{at}: nothing is mounted at {file}"));
                    let secret_name = v["secret"]["secretName"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{at}: {file} is not from a Secret volume"));
                    let secret = find(docs, "Secret", secret_name).unwrap();
                    assert!(
                        keys(secret).contains(&key),
                        "{at}: {file} needs key {key} in Secret {secret_name}; it has {:?}",
                        keys(secret)
                    );
                    let local = tmp.path().join(m["name"].as_str().unwrap()).join(&key);
                    std::fs::create_dir_all(local.parent().unwrap()).unwrap();
                    std::fs::write(&local, format!("k8s-test-{key}-0123456789abcdef\n")).unwrap();
                    real_text =
                        real_text.replace(&format!("\"{file}\""), &format!("{:?}", local.display().to_string()));
                }
                let real = Config::parse(&real_text).unwrap();
                if let Err(problems) = real.validate() {
                    panic!(
                        "{at}: {cm_name}/{key} is not a valid config:\n  - {}",
                        problems.join("\n  - ")
                    );
                }

                // The listeners are the container's ports, reachable at the pod IP.
                let ports = container_ports(&[c]);
                let (http, http_all) = listen_port(&config.server.listen);
                let admin = config
                    .admin
                    .as_ref()
                    .unwrap_or_else(|| panic!("{at}: no [admin]: no probes"));
                let (admin_port, admin_all) = listen_port(&admin.listen);
                assert!(
                    ports.contains(&http),
                    "{at}: server.listen port {http} is no containerPort ({ports:?})"
                );
                assert!(
                    ports.contains(&admin_port),
                    "{at}: admin.listen port {admin_port} is no containerPort"
                );
                assert!(
                    http_all && admin_all,
                    "{at}: listen on 0.0.0.0: the kubelet and the Service use the pod IP"
                );

                // Probes ask the admin listener.
                for (probe, paths) in [
                    ("livenessProbe", &["/livez"][..]),
                    ("readinessProbe", &["/readyz"][..]),
                    ("startupProbe", &["/livez", "/readyz"][..]),
                ] {
                    let get = &c[probe]["httpGet"];
                    if probe == "startupProbe" && c[probe].is_null() {
                        continue;
                    }
                    assert!(
                        paths.contains(&get["path"].as_str().unwrap_or("")),
                        "{at}: {probe} asks {}, expected one of {paths:?}",
                        get["path"]
                    );
                    assert_eq!(
                        resolve_port(&get["port"], &[c]),
                        Some(admin_port),
                        "{at}: {probe} port is not admin.listen's"
                    );
                }

                // The pod waits for the drain (after any preStop sleep) before SIGKILL.
                let grace = pod["terminationGracePeriodSeconds"].as_i64().unwrap_or(30);
                let pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"].as_i64().unwrap_or(0);
                let drain = config.server.drain_grace.0.as_secs() as i64;
                assert!(
                    grace > pre_stop + drain,
                    "{at}: terminationGracePeriodSeconds {grace} <= preStop {pre_stop} s + drain_grace {drain} s"
                );
                checked += 1;
                eprintln!("{folder}: {at} checked");
            }
        }
    }
    assert!(
        checked >= 2,
        "expected the standalone and the sidecar guestpass containers"
    );
}

#[test]
fn the_standalone_example_is_a_deployment_the_hpa_and_pdb_work_on() {
    let examples = examples();
    let docs = &examples["standalone"];
    let dep = find(docs, "Deployment", "guestpass").expect("a Deployment named guestpass");
    assert!(containers(pod_spec(dep)).iter().any(|c| is_guestpass(c)));
    let hpa = docs.iter().find(|d| d.kind() == "HorizontalPodAutoscaler").unwrap();
    assert_eq!(hpa.value["spec"]["scaleTargetRef"]["name"], "guestpass");
    let pdb = docs.iter().find(|d| d.kind() == "PodDisruptionBudget").unwrap();
    assert!(selects(&pdb.value["spec"]["selector"]["matchLabels"], pod_labels(dep)));
    assert!(docs
        .iter()
        .any(|d| d.kind() == "Service" && selects(&d.value["spec"]["selector"], pod_labels(dep))));
}

#[test]
fn the_sidecar_example_runs_guestpass_as_a_native_sidecar() {
    let examples = examples();
    let deployments: Vec<&Doc> = examples["sidecar"]
        .iter()
        .filter(|d| d.kind() == "Deployment")
        .collect();
    assert_eq!(deployments.len(), 1);
    let pod = pod_spec(deployments[0]);
    let init = pod["initContainers"].as_array().expect("initContainers");
    let sidecar = init
        .iter()
        .find(|c| is_guestpass(c))
        .expect("guestpass in initContainers");
    assert_eq!(
        sidecar["restartPolicy"], "Always",
        "a native sidecar is an init container with restartPolicy: Always"
    );
    let apps: Vec<&Value> = pod["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter(|c| !is_guestpass(c))
        .collect();
    assert!(!apps.is_empty(), "an app container beside the sidecar");
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        assert!(!sidecar[probe].is_null(), "the sidecar has a {probe}");
    }
}

/// The stages of a Dockerfile: (FROM line, instructions), continuation lines joined.
fn dockerfile_stages(text: &str) -> Vec<(String, Vec<String>)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(t);
                if !current.trim().is_empty() {
                    joined.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    for instr in joined {
        if instr.to_ascii_uppercase().starts_with("FROM ") {
            stages.push((instr, Vec::new()));
        } else if let Some(last) = stages.last_mut() {
            last.1.push(instr);
        }
    }
    stages
}

#[test]
fn the_dockerfile_builds_the_musl_target_that_build_musl_builds() {
    let script = std::fs::read_to_string(root().join("scripts/build-musl")).expect("scripts/build-musl");
    assert!(
        script.contains(&format!("TARGET={MUSL_TARGET}")),
        "build-musl targets {MUSL_TARGET}"
    );
    assert!(
        script.contains("cargo build --release --locked --target \"$TARGET\" --no-default-features"),
        "build-musl runs the production build"
    );

    let text = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let stages = dockerfile_stages(&text);
    assert!(stages.len() >= 2, "a multi-stage build");
    let (build_from, build) = &stages[0];
    let stage_name = build_from
        .split_whitespace()
        .skip_while(|w| !w.eq_ignore_ascii_case("AS"))
        .nth(1)
        .expect("the build stage is named");
    assert!(
        build
            .iter()
            .any(|i| i.starts_with("RUN") && i.contains("scripts/build-musl")),
        "the build stage runs scripts/build-musl: {build:#?}"
    );
    assert!(
        build
            .iter()
            .any(|i| i.contains(&format!("target/{MUSL_TARGET}/release/guestpass"))),
        "the build stage takes the musl binary: {build:#?}"
    );

    let (final_from, final_stage) = stages.last().unwrap();
    let base = final_from.split_whitespace().nth(1).unwrap();
    assert!(
        base == "scratch" || base.starts_with("gcr.io/distroless/static"),
        "the image is static-only: FROM {base}"
    );
    let copies: Vec<&String> = final_stage.iter().filter(|i| i.starts_with("COPY")).collect();
    assert_eq!(copies.len(), 1, "the binary only: {copies:?}");
    assert!(copies[0].contains(&format!("--from={stage_name}")), "{}", copies[0]);
    assert!(
        final_stage.iter().all(|i| !i.starts_with("RUN")),
        "nothing runs in a scratch image"
    );
    let user = final_stage.iter().find(|i| i.starts_with("USER")).expect("a USER");
    assert!(user.contains(&NONROOT_UID.to_string()), "{user}");
    let entrypoint = final_stage
        .iter()
        .find(|i| i.starts_with("ENTRYPOINT"))
        .expect("an ENTRYPOINT");

    // The manifests run the binary where the image puts it, with the config they mount.
    let binary = copies[0].split_whitespace().last().unwrap();
    assert!(entrypoint.contains(binary), "{entrypoint} runs {binary}");
    for docs in examples().values() {
        for d in docs.iter().filter(|d| d.kind() == "Deployment") {
            for c in containers(pod_spec(d)).into_iter().filter(|c| is_guestpass(c)) {
                let line = command_line(c);
                assert_eq!(
                    line.first().copied(),
                    Some(binary),
                    "{}: runs the image's binary",
                    d.at()
                );
                assert!(
                    entrypoint.contains("/etc/guestpass/config.toml") && line.contains(&"/etc/guestpass/config.toml")
                );
            }
        }
    }
}

#[test]
fn dockerfile_parsing_joins_continuations() {
    let stages = dockerfile_stages("FROM a AS b\nRUN x \\\n  y\n# c\nFROM scratch\nCOPY --from=b /o /p\n");
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].1, ["RUN x  y"]);
    assert_eq!(stages[1].1, ["COPY --from=b /o /p"]);
}
