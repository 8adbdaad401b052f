//! Windows: the keys of `OVER (PARTITION BY … ORDER BY …)` checked, and the frame's rules that
//! depend on them. (The parser keeps the rules a frame has on its own; see
//! [`Frame::problem`](crate::window::Frame::problem).)

use super::*;
use crate::typed::{TypedWindow, WindowKey};
use crate::window::{FrameUnits, Window};

impl Checker {
    /// `window` checked in `scope`: its keys read a row's (or a group's) values, and hold no
    /// window themselves.
    pub(super) fn window(
        &mut self,
        window: &Window,
        scope: &Scope<'_>,
        position: Position,
    ) -> Result<Box<TypedWindow>, SoqlError> {
        let inner = Scope {
            allows: Allows::Aggregates,
            ..*scope
        };
        let partition = window
            .partition
            .iter()
            .map(|key| {
                self.expr(key, &inner)
                    .and_then(|key| distinguishable(key, "PARTITION BY"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut order = Vec::with_capacity(window.order.len());
        for item in &window.order {
            let key = self.expr(&item.expr, &inner)?;
            if !key.ty.is_ordered() {
                return Err(SoqlError::mismatch(
                    key.position,
                    format!("{} values have no order", key.ty.name()),
                ));
            }
            order.push(WindowKey {
                key,
                descending: item.descending,
                nulls: item.nulls,
            });
        }
        if let Some(frame) = &window.frame {
            match frame.units {
                FrameUnits::Range
                    if frame.has_offset()
                        && !matches!(order.as_slice(), [only] if only.key.ty.is_numeric()) =>
                {
                    return Err(SoqlError::mismatch(
                        position,
                        "RANGE with an offset needs the window ordered by exactly one number",
                    ));
                }
                FrameUnits::Groups if order.is_empty() => {
                    return Err(SoqlError::mismatch(
                        position,
                        "GROUPS needs the window ordered",
                    ));
                }
                _ => {}
            }
        }
        Ok(Box::new(TypedWindow {
            partition,
            order,
            frame: window.frame,
        }))
    }
}
