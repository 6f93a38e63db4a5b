//! Björck and projUNN keep W orthogonal; the projUNN low-rank updates agree with the full
//! polar projection / matrix exponential computed densely with faer.

use faer::Mat;
use qornn_quant::ortho::{
    self, bjorck_polish, projunn_d, projunn_t, random_orthogonal, Bjorck, BjorckConfig,
};
use qornn_quant::real::orthogonality_error;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn to_mat(a: &[f64], n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| a[i + j * n])
}

/// polar(A) = U Vᵀ from faer's SVD (the dense reference).
fn polar(a: &[f64], n: usize) -> Vec<f64> {
    let svd = to_mat(a, n).svd().expect("svd");
    let p = svd.U() * svd.V().transpose();
    (0..n * n).map(|k| p[(k % n, k / n)]).collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn bjorck_orthogonalises_a_random_matrix() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for n in [8usize, 33, 64] {
        let a: Vec<f64> = (0..n * n).map(|_| ortho::gaussian(&mut rng)).collect();
        // Gaussian matrices have small singular values: start from an orthogonal matrix plus
        // a perturbation, as training does, and check 15 iterations converge.
        let q: Vec<f64> = random_orthogonal(n, &mut rng);
        let lat: Vec<f64> = q.iter().zip(&a).map(|(x, y)| x + 0.05 * y).collect();
        let before = orthogonality_error(&lat, n);
        let mut bj = Bjorck::<f64>::new(n, BjorckConfig::default());
        let mut out = vec![0.0; n * n];
        bj.forward(&lat, 100, &mut out);
        let after = orthogonality_error(&out, n);
        assert!(
            after < 1e-6,
            "n = {n}: ‖WᵀW − I‖ = {after} (before {before})"
        );
        // and it is the nearest orthogonal matrix: the polar factor
        assert!(max_diff(&out, &polar(&lat, n)) < 1e-5);
    }
}

#[test]
fn bjorck_in_f32_stays_close() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let n = 128;
    let q: Vec<f32> = random_orthogonal(n, &mut rng);
    let lat: Vec<f32> = q
        .iter()
        .map(|&x| x + 0.02 * ortho::gaussian(&mut rng) as f32)
        .collect();
    let mut bj = Bjorck::<f32>::new(n, BjorckConfig::default());
    let mut out = vec![0.0f32; n * n];
    bj.forward(&lat, 100, &mut out);
    assert!(orthogonality_error(&out, n) < 1e-4);
}

#[test]
fn projunn_d_matches_dense_polar_projection() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for n in [5usize, 16, 40] {
        for scale in [1e-3, 0.1, 0.7] {
            let w: Vec<f64> = random_orthogonal(n, &mut rng);
            let a: Vec<f64> = (0..n).map(|_| scale * ortho::gaussian(&mut rng)).collect();
            let b: Vec<f64> = (0..n)
                .map(|_| ortho::gaussian(&mut rng) / (n as f64).sqrt())
                .collect();
            let mut dense = w.clone();
            for j in 0..n {
                for i in 0..n {
                    dense[i + j * n] += a[i] * b[j];
                }
            }
            let reference = polar(&dense, n);
            let mut low = w.clone();
            assert!(projunn_d(&mut low, n, &a, &b));
            let diff = max_diff(&low, &reference);
            assert!(
                diff < 1e-9,
                "n = {n}, |a| ~ {scale}: low-rank vs dense polar differ by {diff}"
            );
            assert!(orthogonality_error(&low, n) < 1e-10);
        }
    }
}

#[test]
fn projunn_t_matches_dense_exponential_and_stays_orthogonal() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let n = 12;
    let w: Vec<f64> = random_orthogonal(n, &mut rng);
    let a: Vec<f64> = (0..n).map(|_| 0.3 * ortho::gaussian(&mut rng)).collect();
    let b: Vec<f64> = (0..n).map(|_| ortho::gaussian(&mut rng)).collect();
    // Ω = (Wᵀa bᵀ − b aᵀW)/2, exp(Ω) by a long Taylor series with scaling and squaring
    let wm = to_mat(&w, n);
    let am = Mat::from_fn(n, 1, |i, _| a[i]);
    let bm = Mat::from_fn(n, 1, |i, _| b[i]);
    let ah = wm.transpose() * &am;
    let omega = (&ah * bm.transpose() - &bm * ah.transpose()) * faer::Scale(0.5);
    let s = 2f64.powi(-8);
    let x = &omega * faer::Scale(s);
    let mut e = Mat::<f64>::identity(n, n);
    let mut term = Mat::<f64>::identity(n, n);
    for k in 1..20 {
        term = &term * &x * faer::Scale(1.0 / k as f64);
        e += &term;
    }
    for _ in 0..8 {
        e = &e * &e;
    }
    let dense = &wm * &e;
    let reference: Vec<f64> = (0..n * n).map(|k| dense[(k % n, k / n)]).collect();
    let mut low = w.clone();
    projunn_t(&mut low, n, &a, &b);
    assert!(max_diff(&low, &reference) < 1e-10);
    assert!(orthogonality_error(&low, n) < 1e-12);
}

#[test]
fn many_projunn_steps_stay_on_the_group() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 64;
    for tangent in [false, true] {
        let mut w: Vec<f32> = random_orthogonal(n, &mut rng);
        for step in 0..2000 {
            let a: Vec<f32> = (0..n)
                .map(|_| 0.01 * rng.random_range(-1.0f32..1.0))
                .collect();
            let b: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            if tangent {
                projunn_t(&mut w, n, &a, &b);
            } else {
                projunn_d(&mut w, n, &a, &b);
            }
            if (step + 1) % 64 == 0 && orthogonality_error(&w, n) > 1e-4 {
                bjorck_polish(&mut w, n, 2);
            }
            // f32 rounding drifts slowly; the periodic polish keeps it bounded
            let err = orthogonality_error(&w, n);
            assert!(
                err < 1e-3,
                "step {step} ({}): ‖WᵀW − I‖ = {err}",
                if tangent { "T" } else { "D" }
            );
        }
    }
}

#[test]
fn rank_one_approximation_finds_the_top_singular_pair() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let n = 20;
    let u: Vec<f64> = (0..n).map(|_| ortho::gaussian(&mut rng)).collect();
    let v: Vec<f64> = (0..n).map(|_| ortho::gaussian(&mut rng)).collect();
    let mut m: Vec<f64> = (0..n * n)
        .map(|_| 0.01 * ortho::gaussian(&mut rng))
        .collect();
    for j in 0..n {
        for i in 0..n {
            m[i + j * n] += u[i] * v[j];
        }
    }
    let mut st = ortho::PowerIteration::new(n);
    let (a, b) = ortho::rank_one(&m, n, n, &mut st, 50);
    let svd = to_mat(&m, n).svd().expect("svd");
    let s0 = svd.S().column_vector()[0];
    let an: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let bn: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((an * bn - s0).abs() < 1e-8 * s0);
}

/// The largest |entry| of WᵀW − I.
fn gram_error(w: &[f64], n: usize) -> f64 {
    let m = to_mat(w, n);
    let g = m.transpose() * &m;
    (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .fold(0.0, |e, (i, j)| {
            e.max((g[(i, j)] - if i == j { 1.0 } else { 0.0 }).abs())
        })
}

#[test]
fn the_shift_initialisation_is_exactly_orthogonal_after_bjorck_and_the_quantiser() {
    use qornn_quant::quantize::fake_quantize;
    let n = 64;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let shift: Vec<f64> = ortho::shift_init(n);
    // A delay line: W e_j = −e_{j+1 mod n}.
    for j in 0..n {
        for i in 0..n {
            let want = if i == (j + 1) % n { -1.0 } else { 0.0 };
            assert_eq!(shift[i + j * n], want);
        }
    }
    let mut bj = Bjorck::<f64>::new(n, BjorckConfig::default());
    let mut w = vec![0.0; n * n];
    bj.forward(&shift, 50, &mut w);
    let mut q = vec![0.0; n * n];
    for bits in 2..=8 {
        fake_quantize(&w, bits, &mut q);
        assert_eq!(gram_error(&q, n), 0.0, "{bits} bits: quantised shift");
    }
    // Neither of the other initialisations survives 5-bit quantisation: that is why the
    // shift exists (a long copy task needs |λ| = 1 to within ~1/T).
    for (name, w0) in [
        ("henaff", ortho::henaff_init::<f64>(n, &mut rng)),
        ("random", random_orthogonal::<f64>(n, &mut rng)),
    ] {
        fake_quantize(&w0, 5, &mut q);
        assert!(
            gram_error(&q, n) > 1e-2,
            "{name}: quantised W is not orthogonal"
        );
    }
}
