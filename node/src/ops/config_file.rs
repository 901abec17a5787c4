//! `floe-node config`: a complete, commented `node.toml`.
//!
//! The file is the text of `node.example.toml` (built into the binary) with the operator's
//! values put on the lines of the top-level fields, so it carries the same comment on every
//! field and cannot drift from the example, which a test keeps in sync with
//! [`NodeConfig`]. Values are written as TOML literals (quoted and escaped by the `toml`
//! crate), and the text is parsed back with [`NodeConfig`] before anything is written.
//!
//! Fields not given keep the example's values, except the three paths, which default to files
//! next to the written configuration, as absolute paths: `data/`, `genesis.json` and
//! `key.json`. Paths that are given are written as given (a relative path is resolved against
//! the directory the node is started from).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use floe_ledger_types::tx::MAX_NAME_LEN;

use super::ErrorKind;
use crate::config::NodeConfig;

/// The example configuration, the template of every written one.
pub const EXAMPLE: &str = include_str!("../../node.example.toml");

/// The comment the written file starts with (instead of the example's).
const HEADER: &str = "\
# A storage node's configuration, written by `floe-node config`; run the node with
# `floe-node run --config <this file>`. Every field is documented on
# `floe_node::config::NodeConfig`; unknown fields are errors. Relative paths are resolved
# against the directory the node is started from.

";

/// The values of a configuration; `None` (or an empty `ledger_rpc`) keeps the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigValues {
    /// The node's name (as it will be registered).
    pub name: Option<String>,
    /// The store's directory.
    pub data_dir: Option<PathBuf>,
    /// libp2p listen address.
    pub p2p_listen: Option<String>,
    /// HTTP listen address.
    pub http_listen: Option<SocketAddr>,
    /// Ledger RPC URLs.
    pub ledger_rpc: Vec<String>,
    /// The chain's genesis file.
    pub genesis: Option<PathBuf>,
    /// The node's key file.
    pub key_file: Option<PathBuf>,
}

/// A configuration could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// A file exists at the path, and overwriting was not forced.
    #[error("{} exists; refusing to overwrite it (pass --force to replace it)", path.display())]
    Exists {
        /// The path.
        path: PathBuf,
    },
    /// A value is not valid for its field.
    #[error("{field} {value:?}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// The example lacks the line of a top-level field (the binary's template is broken).
    #[error("the built-in node.example.toml has no line for {field}")]
    Template {
        /// The field.
        field: &'static str,
    },
    /// The written text does not parse back (the binary's template is broken).
    #[error("the generated configuration does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    /// Reading the current directory, creating the directory or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl ConfigFileError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Local
    }

    /// A stable snake-case code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigFileError::Exists { .. } => "exists",
            ConfigFileError::Invalid { .. } => "invalid_argument",
            ConfigFileError::Template { .. } | ConfigFileError::Parse(_) => "internal",
            ConfigFileError::Io { .. } => "io",
        }
    }
}

fn invalid(field: &'static str, value: &str, reason: impl Into<String>) -> ConfigFileError {
    ConfigFileError::Invalid {
        field,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// A path as a TOML string.
fn path_value(field: &'static str, path: &Path) -> Result<toml::Value, ConfigFileError> {
    let text = path
        .to_str()
        .ok_or_else(|| invalid(field, &path.to_string_lossy(), "not valid UTF-8"))?;
    Ok(toml::Value::String(text.to_owned()))
}

/// Checks the values that the configuration's types do not check when parsed.
fn validate(values: &ConfigValues) -> Result<(), ConfigFileError> {
    if let Some(name) = &values.name
        && (name.is_empty() || name.len() > MAX_NAME_LEN)
    {
        return Err(invalid(
            "name",
            name,
            format!("must be 1 to {MAX_NAME_LEN} bytes"),
        ));
    }
    if let Some(addr) = &values.p2p_listen {
        addr.parse::<libp2p::Multiaddr>()
            .map_err(|e| invalid("p2p_listen", addr, e.to_string()))?;
    }
    for url in &values.ledger_rpc {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| invalid("ledger_rpc", url, e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("ledger_rpc", url, "not an http(s) URL"));
        }
    }
    Ok(())
}

/// The configuration text for `values`, with default paths under `base`, and the
/// configuration it parses to.
pub fn render(values: &ConfigValues, base: &Path) -> Result<(String, NodeConfig), ConfigFileError> {
    validate(values)?;
    let path_or = |field, given: &Option<PathBuf>, default: &str| match given {
        Some(p) => path_value(field, p),
        None => path_value(field, &base.join(default)),
    };
    let mut fields: Vec<(&'static str, Option<toml::Value>)> = vec![
        ("name", values.name.clone().map(toml::Value::String)),
        (
            "data_dir",
            Some(path_or("data_dir", &values.data_dir, "data")?),
        ),
        (
            "genesis",
            Some(path_or("genesis", &values.genesis, "genesis.json")?),
        ),
        (
            "key_file",
            Some(path_or("key_file", &values.key_file, "key.json")?),
        ),
        (
            "p2p_listen",
            values.p2p_listen.clone().map(toml::Value::String),
        ),
        (
            "http_listen",
            values
                .http_listen
                .map(|a| toml::Value::String(a.to_string())),
        ),
        (
            "ledger_rpc",
            (!values.ledger_rpc.is_empty()).then(|| {
                toml::Value::Array(
                    values
                        .ledger_rpc
                        .iter()
                        .cloned()
                        .map(toml::Value::String)
                        .collect(),
                )
            }),
        ),
    ];
    let mut found = vec![false; fields.len()];
    let mut out = String::from(HEADER);
    let mut top_level = true;
    for line in example_body().lines() {
        top_level &= !line.trim_start().starts_with('[');
        let field = top_level
            .then(|| {
                fields.iter_mut().enumerate().find(|(_, (key, _))| {
                    line.strip_prefix(*key).is_some_and(|r| r.starts_with(" ="))
                })
            })
            .flatten();
        match field {
            Some((i, (key, value))) => {
                found[i] = true;
                match value.take() {
                    Some(v) => out.push_str(&format!("{key} = {v}")),
                    None => out.push_str(line),
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    if let Some(i) = found.iter().position(|f| !f) {
        return Err(ConfigFileError::Template { field: fields[i].0 });
    }
    let config: NodeConfig = toml::from_str(&out)?;
    Ok((out, config))
}

/// The example without its opening comment (up to the first blank line).
fn example_body() -> &'static str {
    match EXAMPLE.split_once("\n\n") {
        Some((head, body)) if head.lines().all(|l| l.starts_with('#')) => body,
        _ => EXAMPLE,
    }
}

/// Writes the configuration for `values` to `out` (creating its directory), refusing an
/// existing file unless `force`; default paths are next to `out`. Returns what it parses to.
pub fn write_config(
    out: &Path,
    values: &ConfigValues,
    force: bool,
) -> Result<NodeConfig, ConfigFileError> {
    super::check_free(out, force).map_err(|path| ConfigFileError::Exists { path })?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ConfigFileError::Io { path, source }
    };
    let absolute = std::path::absolute(out).map_err(io(out))?;
    let base = absolute.parent().unwrap_or(Path::new("/"));
    let (text, config) = render(values, base)?;
    std::fs::create_dir_all(base).map_err(io(base))?;
    std::fs::write(out, text).map_err(io(out))?;
    tracing::info!(path = %out.display(), name = %config.name, "node configuration written");
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> ConfigValues {
        ConfigValues {
            name: Some("edge \"7\"".into()),
            data_dir: Some("/srv/floe/data dir".into()),
            p2p_listen: Some("/ip4/0.0.0.0/tcp/38001".into()),
            http_listen: Some("127.0.0.1:39001".parse().unwrap()),
            ledger_rpc: vec!["http://ledger-a:27001".into(), "https://ledger-b".into()],
            genesis: Some("genesis/floe.json".into()),
            key_file: Some("/etc/floe/key.json".into()),
        }
    }

    /// The written file parses with the node's configuration type and holds exactly the given
    /// values, the example's defaults elsewhere, and the example's comments.
    #[test]
    fn written_config_parses_with_the_given_values() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("etc/node.toml");
        let written = write_config(&out, &values(), false).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let parsed: NodeConfig = toml::from_str(&text).unwrap();
        assert_eq!(parsed, written);
        let example: NodeConfig = toml::from_str(EXAMPLE).unwrap();
        let v = values();
        let expected = NodeConfig {
            name: v.name.unwrap(),
            data_dir: v.data_dir.unwrap(),
            genesis: v.genesis.unwrap(),
            key_file: v.key_file.unwrap(),
            p2p_listen: v.p2p_listen.unwrap(),
            http_listen: v.http_listen.unwrap(),
            ledger_rpc: v.ledger_rpc,
            ..example
        };
        assert_eq!(parsed, expected);
        // Every comment line of the example (past its header) is in the file.
        for line in example_body().lines().filter(|l| l.starts_with('#')) {
            assert!(text.contains(line), "missing comment {line:?}");
        }
        assert!(text.starts_with(HEADER));

        // Not overwritten without force; replaced with it.
        assert!(matches!(
            write_config(&out, &ConfigValues::default(), false),
            Err(ConfigFileError::Exists { .. })
        ));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
        write_config(&out, &ConfigValues::default(), true).unwrap();
        assert_ne!(std::fs::read_to_string(&out).unwrap(), text);
    }

    /// Without values, paths are next to the file (absolute) and the rest is the example's.
    #[test]
    fn defaults_are_the_example_and_paths_next_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("node.toml");
        let config = write_config(&out, &ConfigValues::default(), false).unwrap();
        let example: NodeConfig = toml::from_str(EXAMPLE).unwrap();
        assert_eq!(config.data_dir, dir.path().join("data"));
        assert_eq!(config.genesis, dir.path().join("genesis.json"));
        assert_eq!(config.key_file, dir.path().join("key.json"));
        assert_eq!(
            NodeConfig {
                data_dir: example.data_dir.clone(),
                genesis: example.genesis.clone(),
                key_file: example.key_file.clone(),
                ..config
            },
            example
        );
    }

    #[test]
    fn invalid_values_are_refused_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("node.toml");
        for bad in [
            ConfigValues {
                name: Some(String::new()),
                ..ConfigValues::default()
            },
            ConfigValues {
                name: Some("n".repeat(MAX_NAME_LEN + 1)),
                ..ConfigValues::default()
            },
            ConfigValues {
                p2p_listen: Some("127.0.0.1:8000".into()),
                ..ConfigValues::default()
            },
            ConfigValues {
                ledger_rpc: vec!["ftp://ledger".into()],
                ..ConfigValues::default()
            },
        ] {
            match write_config(&out, &bad, false) {
                Err(ConfigFileError::Invalid { .. }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
            assert!(!out.exists());
        }
    }
}
