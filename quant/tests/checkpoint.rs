//! Seeded runs are reproducible, and a run resumed from a checkpoint continues exactly as the
//! uninterrupted run would have.

use qornn_quant::bptt::Activation;
use qornn_quant::tasks::TaskSpec;
use qornn_quant::train::{Method, TrainConfig, Trainer};

fn config(method: Method) -> TrainConfig {
    let mut c = TrainConfig::new(TaskSpec::Copy { delay: 5 }, method, 16);
    c.batch = 16;
    c.steps = 40;
    c.eval_every = 20;
    c.test_limit = 64;
    c.activation = Activation::Modrelu;
    c.bits = 4;
    c
}

#[test]
fn resume_is_exact() {
    for method in [Method::SteBjorck, Method::SteProjunnT, Method::FpProjunnD] {
        let mut full = Trainer::new(config(method)).unwrap();
        full.run(|_, _| true, |_, _| true).unwrap();

        let mut first = Trainer::new(config(method)).unwrap();
        first.run(|_, _| true, |t, _| t.step < 20).unwrap();
        assert_eq!(first.step, 20);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ck.json");
        first.save(&path).unwrap();
        let ck = Trainer::load_checkpoint(&path).unwrap();
        // the same thread count: the sum of per-thread gradients is then in the same order
        let mut resumed = Trainer::resume(ck, 2).unwrap();
        resumed.run(|_, _| true, |_, _| true).unwrap();
        assert_eq!(resumed.step, full.step);
        assert!(
            resumed.ornn().unwrap().params == full.ornn().unwrap().params,
            "{method:?}: resumed parameters differ from the uninterrupted run"
        );
        assert_eq!(resumed.history.len(), full.history.len());
        assert_eq!(
            resumed.history.last().unwrap().test_loss,
            full.history.last().unwrap().test_loss
        );
    }
}

#[test]
fn bad_checkpoints_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.json");
    std::fs::write(&path, "{\"format\": \"qornn.checkpoint\"").unwrap();
    assert!(Trainer::load_checkpoint(&path).is_err());
    let mut t = Trainer::new(config(Method::SteBjorck)).unwrap();
    t.save(&path).unwrap();
    let mut ck = Trainer::load_checkpoint(&path).unwrap();
    ck.config.hidden = 17;
    let e = Trainer::resume(ck, 2).err().expect("mismatch");
    assert!(e.to_string().contains("does not match"), "{e}");
    assert!(Trainer::load_checkpoint(&dir.path().join("missing.json")).is_err());
    let _ = &mut t;
}
