//! The trainable model: latent parameters, how W is kept orthogonal, the weight quantiser,
//! and the chain rule from the effective weights back to the latent ones.

pub use crate::bptt::Params;
use crate::bptt::{Activation, Grads, NetShape, Weights};
use crate::ortho::{self, Bjorck, BjorckConfig, PowerIteration, Projunn};
use crate::quantize::WeightBits;
use crate::real::Real;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How W is kept (approximately) orthogonal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ortho {
    /// Latent unconstrained matrix → spectral normalisation → Björck iterations.
    Bjorck(BjorckConfig),
    /// Latent orthogonal matrix updated by projUNN rank-one steps.
    Projunn {
        /// projUNN-D or projUNN-T.
        kind: Projunn,
    },
    /// Unconstrained W (a plain RNN; for comparison only).
    Free,
}

/// How W is initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// Henaff et al.'s block-diagonal 2×2 rotations.
    Henaff,
    /// A Haar-random orthogonal matrix.
    Random,
    /// The negated cyclic shift (exactly orthogonal after quantisation; see
    /// [`ortho::shift_init`]).
    Shift,
}

impl Init {
    /// All initialisations with their names in configuration files.
    pub const ALL: [(Init, &'static str); 3] = [
        (Init::Henaff, "henaff"),
        (Init::Random, "random"),
        (Init::Shift, "shift"),
    ];
}

crate::names::named_enum!(Init, "initialisation");

/// Everything that defines a model's structure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Sizes, σ, readout, loss.
    pub shape: NetShape,
    /// How W is kept orthogonal.
    pub ortho: Ortho,
    /// Quantiser of W and U during training (`Full` for the full-precision baselines and PTQ).
    pub weight_bits: WeightBits,
    /// Quantiser of V during training.
    pub output_bits: WeightBits,
    /// W's initialisation.
    pub init: Init,
}

/// A model: configuration, latent parameters, and the persistent state of its projections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model<R> {
    /// Structure.
    pub config: ModelConfig,
    /// Latent parameters.
    pub params: Params<R>,
    /// Spectral-norm power iteration of the Björck parametrisation.
    pub power: PowerIteration<R>,
    /// Whether the power iteration has been run to convergence once.
    #[serde(default)]
    pub warm: bool,
    #[serde(skip)]
    bjorck: Option<Bjorck<R>>,
    #[serde(skip)]
    eff: Effective<R>,
}

/// The effective weights of the last [`Model::prepare`].
#[derive(Debug, Clone, Default)]
struct Effective<R> {
    w_orth: Vec<R>,
    w: Vec<R>,
    u: Vec<R>,
    v: Vec<R>,
    scratch: Vec<R>,
}

impl<R: Real> Model<R> {
    /// A freshly initialised model (W orthogonal, U Xavier-uniform, V Kaiming-normal, biases 0).
    pub fn new(config: ModelConfig, seed: u64) -> Self {
        let s = config.shape;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let w = match config.init {
            Init::Henaff => ortho::henaff_init(s.n, &mut rng),
            Init::Random => ortho::random_orthogonal(s.n, &mut rng),
            Init::Shift => ortho::shift_init(s.n),
        };
        let bound = (6.0 / (s.n + s.m) as f64).sqrt();
        let u = (0..s.n * s.m)
            .map(|_| R::c(rng.random_range(-bound..bound)))
            .collect();
        let std = (2.0 / s.n as f64).sqrt();
        let v = (0..s.d * s.n)
            .map(|_| R::c(std * ortho::gaussian(&mut rng)))
            .collect();
        Model {
            config,
            params: Params {
                w,
                u,
                b: vec![R::zero(); s.n],
                beta: vec![R::zero(); s.n],
                v,
                c: vec![R::zero(); s.d],
            },
            power: PowerIteration::new(s.n),
            warm: false,
            bjorck: None,
            eff: Effective::default(),
        }
    }

    /// The network's sizes and structure.
    pub fn shape(&self) -> NetShape {
        self.config.shape
    }

    /// Trainable parameters (see [`NetShape::param_count`]).
    pub fn param_count(&self) -> usize {
        self.config.shape.param_count()
    }

    /// Compute the effective weights from the latent ones: orthogonalise W (Björck), then
    /// fake-quantise W, U and V. `power_iters` power-iteration steps refine the spectral norm
    /// (use many on the first call, a few later).
    pub fn prepare(&mut self, power_iters: usize) {
        let s = self.config.shape;
        let nn = s.n * s.n;
        let e = &mut self.eff;
        for (v, len) in [
            (&mut e.w_orth, nn),
            (&mut e.w, nn),
            (&mut e.u, s.n * s.m),
            (&mut e.v, s.d * s.n),
            (&mut e.scratch, nn),
        ] {
            v.resize(len, R::zero());
        }
        let iters = if self.warm {
            power_iters
        } else {
            power_iters.max(50)
        };
        self.warm = true;
        match self.config.ortho {
            Ortho::Bjorck(cfg) => {
                let bj = self.bjorck.get_or_insert_with(|| Bjorck::new(s.n, cfg));
                bj.power = std::mem::replace(&mut self.power, PowerIteration::new(0));
                bj.forward(&self.params.w, iters, &mut e.w_orth);
                self.power = bj.power.clone();
            }
            Ortho::Projunn { .. } | Ortho::Free => e.w_orth.copy_from_slice(&self.params.w),
        }
        self.config.weight_bits.apply(&e.w_orth, &mut e.w);
        self.config.weight_bits.apply(&self.params.u, &mut e.u);
        self.config.output_bits.apply(&self.params.v, &mut e.v);
    }

    /// The effective weights of the last [`Model::prepare`].
    pub fn weights(&self) -> Weights<'_, R> {
        Weights {
            w: &self.eff.w,
            u: &self.eff.u,
            b: &self.params.b,
            beta: &self.params.beta,
            v: &self.eff.v,
            c: &self.params.c,
        }
    }

    /// The orthogonalised, not yet quantised W of the last [`Model::prepare`].
    pub fn w_orthogonal(&self) -> &[R] {
        &self.eff.w_orth
    }

    /// Turn gradients with respect to the effective weights into gradients with respect to the
    /// latent parameters, in place: straight-through for the quantisers, backpropagation
    /// through the Björck iterations and the spectral normalisation for W.
    pub fn chain_to_latent(&mut self, g: &mut Grads<R>) {
        if let (Ortho::Bjorck(_), Some(bj)) = (self.config.ortho, self.bjorck.as_mut()) {
            let e = &mut self.eff;
            e.scratch.copy_from_slice(&g.w);
            bj.backward(&self.params.w, &mut e.scratch, &mut g.w);
        }
        if self.config.shape.activation == Activation::Relu {
            g.beta.iter_mut().for_each(|v| *v = R::zero());
        }
    }
}
