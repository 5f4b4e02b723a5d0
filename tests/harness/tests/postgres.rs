//! The PostgreSQL harness against a real server: start-up, `psql`, database isolation, shutdown by PID.

use std::process::Command;
use std::time::{Duration, Instant};

use tributary_testkit::{Postgres, unique_database};

#[test]
fn shared_server_runs_sql_in_a_fresh_database() {
    let pg = Postgres::shared();
    let url = pg.create_database(&unique_database("smoke"));
    assert!(url.starts_with(&format!(
        "postgres://postgres@127.0.0.1:{}/smoke_",
        pg.port()
    )));

    let sum = pg.psql(
        &url,
        "CREATE TABLE t (x int); INSERT INTO t VALUES (1),(2); SELECT sum(x) FROM t",
    );

    assert_eq!(sum, "3");
}

#[test]
fn databases_on_the_shared_server_are_isolated() {
    let pg = Postgres::shared();
    let first = unique_database("isolated");
    let second = unique_database("isolated");
    pg.create_database(&first);
    pg.create_database(&second);

    pg.psql(&first, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)");

    assert_eq!(pg.psql(&first, "SELECT count(*) FROM t"), "1");
    assert_eq!(
        pg.psql(
            &second,
            "SELECT count(*) FROM pg_tables WHERE tablename = 't'"
        ),
        "0"
    );
}

#[test]
fn psql_returns_rows_as_lines_of_pipe_separated_columns() {
    let pg = Postgres::shared();

    let rows = pg.psql(
        &pg.url(),
        "SELECT x, x * 2 FROM generate_series(1, 3) AS x ORDER BY x",
    );

    assert_eq!(rows, "1|2\n2|4\n3|6");
}

#[test]
#[should_panic(expected = "does_not_exist")]
fn psql_panics_with_the_server_error() {
    Postgres::shared().psql("postgres", "SELECT * FROM does_not_exist");
}

#[test]
fn stop_ends_the_postmaster_and_deletes_the_cluster() {
    let pg = Postgres::start().expect("a second cluster starts");
    let pid = pg.pid().expect("the postmaster PID");
    let data = pg.data_dir();
    assert_eq!(pg.psql("postgres", "SELECT 1"), "1");

    pg.stop();

    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "postmaster {pid} still running after stop");
    assert!(!data.exists(), "{} not deleted", data.display());
}

fn alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
