//! PostgreSQL output settings.

use serde::Deserialize;

/// Store processed events in PostgreSQL. The schema (`migrations/postgres/`) is applied at start.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresOutputConfig {
    /// Name used in metrics and in the offset this output keeps in the database; defaults to
    /// `postgres`.
    #[serde(default)]
    pub name: Option<String>,
    /// e.g. `postgres://postgres@127.0.0.1:5432/logs`. When the environment variable named by
    /// `url_env` is set, it wins.
    #[serde(default = "default_url")]
    pub url: String,
    /// Environment variable that overrides `url`.
    #[serde(default = "default_url_env")]
    pub url_env: String,
    /// Connections kept open (seed 001: 2 to 10).
    #[serde(default)]
    pub pool: PoolConfig,
    /// Which tables receive events:
    /// - `logs`: every event, attributes and insight as JSONB;
    /// - `aggregated_logs`: per mined pattern, a count, first/last seen and samples (seed 001);
    /// - `log_events`: audit events with their session, type and JSONB payload (seed 002);
    /// - `alerts`: alerts raised by rule stages (the `alert` guest).
    ///
    /// Insights go onto `aggregated_logs` rows and pattern merges re-point `logs` and
    /// `aggregated_logs`, whichever of them the output writes.
    #[serde(default = "default_tables")]
    pub tables: Vec<PostgresTable>,
}

/// The tables the output can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostgresTable {
    Logs,
    AggregatedLogs,
    LogEvents,
    Alerts,
}

/// The connection pool.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    #[serde(default = "default_min")]
    pub min: u32,
    #[serde(default = "default_max")]
    pub max: u32,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { min: default_min(), max: default_max() }
    }
}

fn default_url() -> String {
    "postgres://postgres@127.0.0.1:5432/postgres".into()
}
fn default_url_env() -> String {
    "SLUICE_POSTGRES_URL".into()
}
fn default_tables() -> Vec<PostgresTable> {
    vec![PostgresTable::Logs]
}
fn default_min() -> u32 {
    2
}
fn default_max() -> u32 {
    10
}

impl PostgresOutputConfig {
    /// The database address to use: the environment's, else the file's.
    pub fn effective_url(&self) -> String {
        std::env::var(&self.url_env).ok().filter(|u| !u.is_empty()).unwrap_or_else(|| self.url.clone())
    }

    pub fn writes(&self, table: PostgresTable) -> bool {
        self.tables.contains(&table)
    }
}
