//! A choice between strategies by weight ([`OneOf`], the `one_of!` macro, [`maybe`]), in place
//! of proptest's `prop_oneof!`, `Union`, `option::weighted` and `prop_flat_map`.
//!
//! In: weighted strategies of one value type. Out: a strategy that draws one of them and
//! shrinks like proptest's union (the drawn value first, then earlier alternatives).
//!
//! Why not proptest's union: it keeps every alternative before the drawn one as a lazy tree
//! with a generator of its own, split from the runner's. Under the pass-through generator of the
//! fuzz targets ([`super::from_bytes`]) each split gives half of the bytes left to the lazy
//! tree (never read unless it shrinks), so that after a few dozen choices the stream is empty, reads as zeros, and a uniform
//! draw that rejects zeros never ends. [`OneOf`] draws from the runner's own stream only; the
//! earlier alternatives it shrinks to come from a fixed generator.

use std::fmt;
use std::sync::Arc;

use proptest::strategy::{BoxedStrategy, NewTree, Strategy, ValueTree};
use proptest::test_runner::TestRunner;

/// One of several strategies, each drawn in proportion to its weight.
pub struct OneOf<T> {
    options: Arc<Vec<(u32, BoxedStrategy<T>)>>,
}

impl<T> Clone for OneOf<T> {
    fn clone(&self) -> Self {
        OneOf {
            options: Arc::clone(&self.options),
        }
    }
}

impl<T> fmt::Debug for OneOf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OneOf({} options)", self.options.len())
    }
}

impl<T: fmt::Debug + 'static> OneOf<T> {
    /// A choice among `options` (weight, strategy); at least one weight must be positive.
    pub fn new(options: Vec<(u32, BoxedStrategy<T>)>) -> OneOf<T> {
        assert!(
            options.iter().any(|(w, _)| *w > 0),
            "a choice needs an option of positive weight"
        );
        OneOf {
            options: Arc::new(options),
        }
    }
}

/// `Some` value of `strategy` with probability `some` (in steps of a tenth), else `None`.
pub fn maybe<T: Clone + fmt::Debug + 'static>(
    some: f64,
    strategy: impl Strategy<Value = T> + 'static,
) -> OneOf<Option<T>> {
    let tenths = (some * 10.0).round().clamp(0.0, 10.0) as u32;
    OneOf::new(vec![
        (10 - tenths, proptest::strategy::Just(None).boxed()),
        (tenths, strategy.prop_map(Some).boxed()),
    ])
}

/// `OneOf::new` over `weight => strategy` pairs, or over strategies of weight 1 (for the kit's
/// modules beside this one).
macro_rules! one_of {
    ($($weight:expr => $strategy:expr),+ $(,)?) => {
        super::one_of::OneOf::new(vec![
            $(($weight, proptest::strategy::Strategy::boxed($strategy))),+
        ])
    };
    ($($strategy:expr),+ $(,)?) => {
        super::one_of::OneOf::new(vec![
            $((1, proptest::strategy::Strategy::boxed($strategy))),+
        ])
    };
}

impl<T: fmt::Debug + 'static> Strategy for OneOf<T> {
    type Tree = OneOfTree<T>;
    type Value = T;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let total: u32 = self.options.iter().map(|(w, _)| *w).sum();
        let mut ticket = (0..total).new_tree(runner)?.current();
        let mut pick = 0;
        for (i, (w, _)) in self.options.iter().enumerate() {
            if ticket < *w {
                pick = i;
                break;
            }
            ticket -= w;
        }
        let current = self.options[pick].1.new_tree(runner)?;
        Ok(OneOfTree {
            options: Arc::clone(&self.options),
            pick,
            next_earlier: pick,
            current,
            replaced: None,
        })
    }
}

/// The value tree of [`OneOf`]: the drawn alternative's tree, and where shrinking stands.
pub struct OneOfTree<T> {
    options: Arc<Vec<(u32, BoxedStrategy<T>)>>,
    /// The alternative `current` comes from.
    pick: usize,
    /// Alternatives before this one are still to be tried.
    next_earlier: usize,
    current: Box<dyn ValueTree<Value = T>>,
    /// The alternative and tree that the last switch to an earlier alternative replaced.
    replaced: Option<(usize, Box<dyn ValueTree<Value = T>>)>,
}

impl<T: fmt::Debug> ValueTree for OneOfTree<T> {
    type Value = T;

    fn current(&self) -> T {
        self.current.current()
    }

    fn simplify(&mut self) -> bool {
        self.replaced = None;
        if self.current.simplify() {
            return true;
        }
        // An earlier alternative, drawn from a fixed generator.
        while self.next_earlier > 0 {
            self.next_earlier -= 1;
            let earlier = self.next_earlier;
            if self.options[earlier].0 == 0 {
                continue;
            }
            let mut runner = TestRunner::deterministic();
            if let Ok(tree) = self.options[earlier].1.new_tree(&mut runner) {
                let old = std::mem::replace(&mut self.current, tree);
                self.replaced = Some((self.pick, old));
                self.pick = earlier;
                return true;
            }
        }
        false
    }

    fn complicate(&mut self) -> bool {
        match self.replaced.take() {
            // The earlier alternative passed: back to the one that failed.
            Some((pick, tree)) => {
                self.pick = pick;
                self.current = tree;
                true
            }
            None => self.current.complicate(),
        }
    }
}
