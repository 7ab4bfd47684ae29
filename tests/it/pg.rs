//! A fresh PostgreSQL database per test on the machine's server (`SLUICE_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped afterwards, and a lock so the test that
//! stops the server runs alone.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

/// Tests that use the server share this; the one that stops the server takes it exclusively.
pub static SERVER: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

pub fn admin_url() -> String {
    std::env::var("SLUICE_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of its own for one test.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = format!("sluice_t_{}", uuid::Uuid::now_v7().simple());
        let admin = admin().await;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create database");
        admin.close().await;
        let base = admin_url();
        let root = base.rsplit_once('/').map_or(base.as_str(), |(root, _)| root).to_string();
        TestDb { url: format!("{root}/{name}"), name }
    }

    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new().max_connections(2).connect(&self.url).await.expect("connect to the test database")
    }

    /// `SELECT count(*)` of a query's rows.
    pub async fn count(&self, sql: &str) -> i64 {
        let pool = self.pool().await;
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        pool.close().await;
        n
    }

    /// Polls `sql` (a count) until it returns `want`, for up to `within`; returns the last value.
    pub async fn wait_count(&self, sql: &str, want: i64, within: Duration) -> i64 {
        let deadline = std::time::Instant::now() + within;
        loop {
            let pool = self.pool().await;
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap_or(-1);
            pool.close().await;
            if n == want || std::time::Instant::now() > deadline {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Dropping needs async; a short-lived runtime on its own thread keeps Drop synchronous.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok(admin) = PgPoolOptions::new().max_connections(1).connect(&admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

async fn admin() -> PgPool {
    for _ in 0..100 {
        if let Ok(pool) = PgPoolOptions::new().max_connections(1).connect(&admin_url()).await {
            return pool;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("PostgreSQL at {} does not answer", admin_url());
}

/// Stops or starts the machine's PostgreSQL cluster (Debian's `pg_ctlcluster`).
pub fn cluster(action: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .expect("a PostgreSQL cluster under /etc/postgresql");
    let status = std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", action])
        .args(if action == "stop" { &["-m", "fast"][..] } else { &[][..] })
        .status()
        .expect("run pg_ctlcluster");
    assert!(status.success(), "pg_ctlcluster {action} failed");
}
