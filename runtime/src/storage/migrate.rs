//! Schema migrations from `migrations/libsql/`, applied in order and tracked in `user_version`.
//!
//! Hand-rolled because the migration crates target SQLite through rusqlite or sqlx, not libSQL's
//! connection type; the logic is a dozen lines.

use libsql::Connection;

use super::StoreError;

/// Every migration, in order; `user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/libsql/0001_init.sql"),
    include_str!("../../../migrations/libsql/0002_signals.sql"),
];

pub async fn run(conn: &Connection) -> Result<(), StoreError> {
    let mut rows = conn.query("PRAGMA user_version", ()).await?;
    let current = match rows.next().await? {
        Some(row) => row.get::<i64>(0)? as usize,
        None => 0,
    };
    drop(rows);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = (i + 1) as u32;
        let script = format!("BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;");
        if let Err(source) = conn.execute_batch(&script).await {
            let _ = conn.execute("ROLLBACK", ()).await;
            return Err(StoreError::Migration { version, source });
        }
    }
    Ok(())
}
