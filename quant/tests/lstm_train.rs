//! The LSTM float reference trains through the ordinary [`Trainer`]: it learns the adding task
//! at a short length (far below the memoryless baseline), a checkpoint resumes exactly, and
//! every export path refuses it with a clear error.

use qornn_quant::export::ExportError;
use qornn_quant::optim::OptimizerKind;
use qornn_quant::tasks::TaskSpec;
use qornn_quant::train::{Method, TrainConfig, Trainer};

fn config(task: TaskSpec, hidden: usize, steps: u64) -> TrainConfig {
    let mut c = TrainConfig::new(task, Method::Lstm, hidden);
    c.optimizer = OptimizerKind::Adam;
    c.schedule.lr = 1e-2;
    c.clip = 1.0;
    c.batch = 64;
    c.steps = steps;
    c.eval_every = steps.div_ceil(2);
    c.test_limit = 500;
    c.seed = 3;
    c
}

/// Adding task, T = 30, n = 32, 600 Adam steps of 64 sequences (a few seconds): the test MSE
/// falls from the baseline 1/6 (always answer 1) to below a tenth of it (measured: 6e−4).
#[test]
fn lstm_learns_the_adding_task() {
    let mut t = Trainer::new(config(TaskSpec::Adding { steps: 30 }, 32, 600)).expect("config");
    assert!(t.lstm().is_some() && t.ornn().is_none());
    t.run(|_, _| true, |_, _| true).expect("training");
    let last = t.history.last().expect("an evaluation").clone();
    let baseline = last.baseline.expect("adding has a baseline");
    eprintln!("after {} steps: {last:?}", t.step);
    assert!(last.test_loss < 0.1 * baseline, "{last:?}");
    assert_eq!(last.ortho_error, 0.0);
    // 4(n² + n·m + n) + d·n + d with n = 32, m = 2, d = 1
    assert_eq!(t.param_count(), 4 * (32 * 32 + 32 * 2 + 32) + 32 + 1);
}

#[test]
fn lstm_resume_is_exact() {
    let cfg = config(TaskSpec::Copy { delay: 5 }, 12, 30);
    let mut full = Trainer::new(cfg.clone()).unwrap();
    full.run(|_, _| true, |_, _| true).unwrap();

    let mut first = Trainer::new(cfg).unwrap();
    first.run(|_, _| true, |t, _| t.step < 15).unwrap();
    assert_eq!(first.step, 15);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.json");
    first.save(&path).unwrap();
    let ck = Trainer::load_checkpoint(&path).unwrap();
    assert!(ck.model.is_none() && ck.lstm.is_some());
    let mut resumed = Trainer::resume(ck, 2).unwrap();
    assert_eq!(resumed.lstm(), first.lstm());
    resumed.run(|_, _| true, |_, _| true).unwrap();
    assert_eq!(resumed.step, full.step);
    assert_eq!(
        resumed.lstm().unwrap().params,
        full.lstm().unwrap().params,
        "resumed parameters differ from the uninterrupted run"
    );
    // the same metrics at every evaluation (wall-clock seconds aside)
    let log = |t: &Trainer| -> Vec<(u64, f64, f64)> {
        t.history
            .iter()
            .map(|m| (m.step, m.train_loss, m.test_loss))
            .collect()
    };
    assert_eq!(log(&resumed), log(&full));

    // a checkpoint whose network does not fit its method or shape is refused
    let mut ck = Trainer::load_checkpoint(&path).unwrap();
    ck.config.hidden = 13;
    let e = Trainer::resume(ck, 1).err().expect("shape mismatch");
    assert!(e.to_string().contains("does not match"), "{e}");
    let mut ck = Trainer::load_checkpoint(&path).unwrap();
    ck.config.method = Method::FpBjorck;
    let e = Trainer::resume(ck, 1).err().expect("method mismatch");
    assert!(e.to_string().contains("does not match"), "{e}");
    // and an ORNN cannot start from LSTM weights
    let ck = Trainer::load_checkpoint(&path).unwrap();
    let mut ornn = TrainConfig::new(TaskSpec::Copy { delay: 5 }, Method::FpBjorck, 12);
    ornn.test_limit = 16;
    let mut o = Trainer::new(ornn).unwrap();
    assert!(o.init_from(&ck).is_err());
    // but another LSTM run of the same shape can
    let mut l = Trainer::new(config(TaskSpec::Copy { delay: 5 }, 12, 30)).unwrap();
    l.init_from(&ck).unwrap();
    assert_eq!(l.lstm(), first.lstm());
}

#[test]
fn lstm_export_is_refused() {
    let mut t = Trainer::new(config(TaskSpec::Copy { delay: 3 }, 8, 4)).unwrap();
    t.run(|_, _| true, |_, _| true).unwrap();
    let want = "lstm is a float reference; it has no integer export";
    let check = |e: ExportError| {
        assert!(matches!(e, ExportError::FloatReference("lstm")), "{e:?}");
        assert_eq!(e.to_string(), want);
    };
    check(t.calibrate().unwrap_err());
    check(t.export(12, 1.0).unwrap_err());
    check(t.ptq_table(&[8, 12]).unwrap_err());
    check(t.weight_quantised_model().unwrap_err());
    // float evaluation still works
    t.prepare_for_export();
    let st = t.evaluate(qornn_quant::tasks::Split::Test, None, false);
    assert!(st.loss().is_finite() && st.scored > 0);
    assert!(!Method::Lstm.exportable() && !Method::Lstm.qat());
    assert_eq!(Method::parse("lstm"), Some(Method::Lstm));
}
