//! Internal macros.

/// Implements [`crate::DotStore`] for a newtype over another dot store.
macro_rules! newtype_dot_store {
    (impl[$($gen:tt)*] $ty:ty $(where $($bound:tt)*)?) => {
        impl<$($gen)*> Default for $ty {
            fn default() -> Self {
                Self(Default::default())
            }
        }
        impl<$($gen)*> $crate::Dots for $ty {
            fn is_bottom(&self) -> bool {
                self.0.is_bottom()
            }
            fn for_each_dot(&self, f: &mut dyn FnMut($crate::Dot)) {
                self.0.for_each_dot(f)
            }
            fn retain_dots(&mut self, keep: &mut dyn FnMut($crate::Dot) -> bool) {
                self.0.retain_dots(keep)
            }
        }
        impl<$($gen)*, C: $crate::Storage> $crate::DotStore<C> for $ty $(where $($bound)*)? {
            fn join_with(
                &mut self,
                cx: &$crate::CausalContext<C>,
                other: &Self,
                other_cx: &$crate::CausalContext<C>,
            ) -> Result<(), $crate::CapacityError> {
                self.0.join_with(cx, &other.0, other_cx)
            }
            fn leq_with(
                &self,
                cx: &$crate::CausalContext<C>,
                other: &Self,
                other_cx: &$crate::CausalContext<C>,
            ) -> bool {
                self.0.leq_with(cx, &other.0, other_cx)
            }
            fn is_valid_under(&self, cx: &$crate::CausalContext<C>) -> bool {
                self.0.is_valid_under(cx)
            }
        }
    };
}
pub(crate) use newtype_dot_store;
