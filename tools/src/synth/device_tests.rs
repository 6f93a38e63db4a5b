//! The device table's tests: names round-trip, the table is consistent.
use super::*;

#[test]
fn targets_round_trip_their_names_in_text_and_json() {
    for t in Target::all() {
        assert_eq!(Target::parse(t.name()), Some(t));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, format!("\"{}\"", t.name()));
        assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), t);
    }
    assert_eq!(Target::parse("xc7a35t"), None);
    let e = serde_json::from_str::<Target>("\"xc7a35t\"").unwrap_err();
    assert!(e.to_string().contains("one of: ice40-up5k"), "{e}");
}

#[test]
fn the_table_is_consistent() {
    let mut names: Vec<&str> = DEVICES.iter().map(|d| d.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), DEVICES.len(), "device names are unique");
    for t in Target::all() {
        // A resource with capacity has cells to count it by.
        for r in Resource::ALL {
            if t.capacity(r) > 0 {
                assert!(!t.cells(r).is_empty(), "{t}: {r} has no cells");
            }
        }
    }
    // The named constants point at their own rows.
    assert_eq!(Target::ICE40_UP5K.name(), "ice40-up5k");
    assert_eq!(Target::ECP5_25K.name(), "ecp5-25k");
    assert_eq!(Target::ICE40_UP5K.capacity(Resource::Dsps), 8);
    assert_eq!(Target::ECP5_25K.capacity(Resource::Dsps), 28);
}

#[test]
fn a_placer_failure_is_attributed_to_the_resource_its_log_names() {
    let t = Target::ICE40_UP5K;
    assert_eq!(
        t.resource_in_log("cell 'x' of type 'SB_IO' … no BELs remaining"),
        Resource::Pins
    );
    assert_eq!(
        t.resource_in_log("Unable to place cell of type ICESTORM_DSP"),
        Resource::Dsps
    );
    assert_eq!(
        t.resource_in_log("ICESTORM_RAM: no BELs remaining"),
        Resource::BlockRams
    );
    assert_eq!(
        t.resource_in_log("ICESTORM_LC: no BELs remaining"),
        Resource::Luts
    );
    let e = Target::ECP5_25K;
    assert_eq!(
        e.resource_in_log("type 'MULT18X18D' no BELs remaining"),
        Resource::Dsps
    );
    assert_eq!(
        e.resource_in_log("ERROR: TRELLIS_IO exhausted"),
        Resource::Pins
    );
    // The utilisation table names every resource; only the error line counts.
    let log = "Info:  SB_IO: 3/ 96\nInfo:  ICESTORM_DSP: 9/ 8\nERROR: Unable to place cell 'm' of type 'SB_MAC16'\n";
    assert_eq!(t.resource_in_log(log), Resource::Dsps);
}
