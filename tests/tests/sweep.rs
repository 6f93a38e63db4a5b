//! `qornn sweep` split into two shards and merged: every grid point is computed once, by one
//! shard, the points of one weight width share one trained model, and the merged table and
//! Pareto plots cover the whole grid. The grid is one width by two lane counts: each point is
//! a full synthesis, place and route of the board top (about 25 s here), so two points are the
//! fewest that still show both shards and the shared model.

use qornn_tests::require_tool;
use qornn_tools::flow::FlowConfig;
use qornn_tools::sweep::{grid, load_results, merge, run_points, Shard};

#[test]
fn two_shards_cover_the_grid_and_merge() {
    if ["yosys", "nextpnr-ice40"]
        .iter()
        .any(|t| require_tool(t).is_none())
    {
        return;
    }
    let mut c = FlowConfig::default();
    c.train.hidden = 16;
    c.train.steps = 40;
    c.train.eval_every = Some(40);
    c.train.test_limit = 100;
    let dir = tempfile::tempdir().unwrap();
    let points = grid(&[3], &[1, 4], &["ice40-up5k".to_string()]);
    assert_eq!(points.len(), 2);
    for i in 0..2 {
        let shard = Shard { index: i, count: 2 };
        run_points(&c, &shard.select(&points), dir.path(), false).unwrap();
    }
    let results = load_results(dir.path()).unwrap();
    assert_eq!(results.len(), 2);
    for r in &results {
        assert!(r.error.is_none(), "{:?}", r.error);
        assert!(r.fits && r.luts.unwrap() > 0 && r.fmax_mhz.unwrap() > 0.0);
        assert_eq!(r.dsps, Some(r.point.lanes as u64));
        assert!((0.0..=1.0).contains(&r.accuracy));
    }
    // One model per weight width, trained by whichever shard came first and shared by its
    // lane counts.
    let models = std::fs::read_dir(dir.path().join("models"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("json".as_ref()))
        .count();
    assert_eq!(models, 1);
    let a = results
        .iter()
        .find(|r| r.point.bits == 3 && r.point.lanes == 1)
        .unwrap();
    let b = results
        .iter()
        .find(|r| r.point.bits == 3 && r.point.lanes == 4)
        .unwrap();
    assert_eq!(a.accuracy, b.accuracy);
    assert!(b.cycles_per_step < a.cycles_per_step);
    let md = merge(dir.path()).unwrap();
    assert!(md.contains("| 3 | 1 | ice40-up5k |"), "{md}");
    assert!(md.contains("| 3 | 4 | ice40-up5k |"), "{md}");
    for f in [
        "sweep.md",
        "sweep.html",
        "sweep.json",
        "pareto_luts.png",
        "pareto_latency.png",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
}
