//! `scripts/bench_charts.py` draws the committed `bench-results.md`: one SVG per conversion input (data shape and
//! size) and measure, plus normalize, load and burst; bars sorted best first, with the figures as the tables give
//! them.

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
    // The order_lines charts keep the names they had before the bench had other data shapes; each input of another
    // shape adds convert-<shape>-<size>-mb-{cpu,rss,wall}.svg.
    let fixed = [
        "burst-seconds.svg",
        "convert-100-mb-cpu.svg",
        "convert-100-mb-rss.svg",
        "convert-100-mb-wall.svg",
        "convert-1000-mb-cpu.svg",
        "convert-1000-mb-rss.svg",
        "convert-1000-mb-wall.svg",
        "load-rows-per-second.svg",
        "normalize-cpu.svg",
    ];
    for name in fixed {
        assert!(
            names.iter().any(|n| n.as_str() == name),
            "{name} is not drawn: {names:?}"
        );
    }
    for name in names.iter().filter(|n| !fixed.contains(&n.as_str())) {
        assert!(
            name.starts_with("convert-")
                && ["-mb-cpu.svg", "-mb-rss.svg", "-mb-wall.svg"]
                    .iter()
                    .any(|end| name.ends_with(*end)),
            "unexpected chart {name}: {names:?}"
        );
    }
    let wall = std::fs::read_to_string(out.path().join("convert-1000-mb-wall.svg")).expect("svg");
    // Bars as (tool, seconds), in drawing order: the title and the unit come first.
    let labels: Vec<&str> = wall
        .split("</text>")
        .filter_map(|t| t.rsplit('>').next())
        .filter(|t| !t.trim().is_empty())
        .skip(2)
        .collect();
    let bars: Vec<(&str, f64)> = labels
        .chunks(2)
        .map(|pair| (pair[0], pair[1].replace(',', "").parse().expect("a figure")))
        .collect();
    assert_eq!(bars.len(), 6, "six tools: {labels:?}");
    assert!(
        bars.windows(2).all(|w| w[0].1 <= w[1].1),
        "fastest first: {bars:?}"
    );
    // Each bar is its tool's row of the order_lines 1000 MB table (headed `## 1000 MB input` in a report from
    // before the data shapes); its section ends at the next `## ` heading.
    let results = std::fs::read_to_string(root.join("bench-results.md")).expect("results");
    let table = ["## order_lines, 1000 MB input", "## 1000 MB input"]
        .into_iter()
        .find_map(|heading| results.split(heading).nth(1))
        .map(|rest| rest.split("\n## ").next().unwrap_or(rest))
        .expect("a 1000 MB order_lines section");
    for (tool, seconds) in &bars {
        assert!(
            table.contains(&format!("| {tool} | {seconds:.2} |")),
            "{tool} {seconds} is not in the 1000 MB table"
        );
    }
    // The committed charts are the ones this results file draws.
    for name in &names {
        assert_eq!(
            std::fs::read_to_string(out.path().join(name)).expect("drawn"),
            std::fs::read_to_string(root.join("docs/bench").join(name)).expect("committed"),
            "docs/bench/{name} is stale: run scripts/bench_charts.py"
        );
    }
}
