//! `scripts/bench_charts.py` draws the committed `bench-results.md`: one SVG per conversion size and measure,
//! plus normalize, load and burst; bars sorted best first, with the figures as the tables give them.

use std::process::Command;
use tributary_testkit::{python, workspace_root};

#[test]
fn the_charts_show_the_figures_of_bench_results() {
    let out = tempfile::tempdir().expect("temp dir");
    let root = workspace_root();
    let run = Command::new(python())
        .arg(root.join("scripts/bench_charts.py"))
        .arg("--results")
        .arg(root.join("bench-results.md"))
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("python runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .expect("charts")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "burst-seconds.svg",
            "convert-100-mb-cpu.svg",
            "convert-100-mb-rss.svg",
            "convert-100-mb-wall.svg",
            "convert-1000-mb-cpu.svg",
            "convert-1000-mb-rss.svg",
            "convert-1000-mb-wall.svg",
            "load-rows-per-second.svg",
            "normalize-cpu.svg",
        ]
    );
    let wall = std::fs::read_to_string(out.path().join("convert-1000-mb-wall.svg")).expect("svg");
    // The 1 GB table: tributary 4.13 s, the fastest, so drawn first; pyarrow 10.45 s last.
    let labels: Vec<&str> = wall
        .split("</text>")
        .filter_map(|t| t.rsplit('>').next())
        .collect();
    let first = labels
        .iter()
        .position(|l| *l == "tributary")
        .expect("tributary");
    let last = labels
        .iter()
        .position(|l| *l == "pyarrow (stream)")
        .expect("pyarrow");
    assert!(first < last, "{labels:?}");
    assert!(
        labels.contains(&"4.13") && labels.contains(&"10.45"),
        "{labels:?}"
    );
    // The committed charts are the ones this results file draws.
    for name in &names {
        assert_eq!(
            std::fs::read_to_string(out.path().join(name)).expect("drawn"),
            std::fs::read_to_string(root.join("docs/bench").join(name)).expect("committed"),
            "docs/bench/{name} is stale: run scripts/bench_charts.py"
        );
    }
}
