//! Symbolic sizes: integer expressions in `N`, the input's sample count.

use std::fmt;

/// A symbolic axis size.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Size {
    /// A known number.
    Const(i64),
    /// `N`, the number of input samples.
    Samples,
    /// The size of a named leading input axis (`batch`, `channels`).
    Lead(String),
    /// The variadic `...` group (no single size).
    Ellipsis,
    /// `a + b`
    Add(Box<Size>, Box<Size>),
    /// `a - b`
    Sub(Box<Size>, Box<Size>),
    /// `a * b`
    Mul(Box<Size>, Box<Size>),
    /// `a // b` (floor)
    FloorDiv(Box<Size>, Box<Size>),
    /// `ceil(a / b)`
    CeilDiv(Box<Size>, Box<Size>),
    /// `max(a, b)`
    Max(Box<Size>, Box<Size>),
}

impl Size {
    /// `self + k`, folding constants.
    pub fn plus(self, k: i64) -> Size {
        match self {
            _ if k == 0 => self,
            Size::Const(a) => Size::Const(a + k),
            Size::Add(s, b) if b.as_const().is_some() => s.plus(b.as_const().unwrap_or(0) + k),
            Size::Sub(s, b) if b.as_const().is_some() => s.plus(k - b.as_const().unwrap_or(0)),
            s if k < 0 => Size::Sub(Box::new(s), Box::new(Size::Const(-k))),
            s => Size::Add(Box::new(s), Box::new(Size::Const(k))),
        }
    }
    /// `self + other`.
    pub fn add_size(self, other: Size) -> Size {
        match (self, other) {
            (Size::Const(a), Size::Const(b)) => Size::Const(a + b),
            (s, Size::Const(b)) => s.plus(b),
            (a, b) => Size::Add(Box::new(a), Box::new(b)),
        }
    }
    /// `self - other`.
    pub fn sub_size(self, other: Size) -> Size {
        match (self, other) {
            (Size::Const(a), Size::Const(b)) => Size::Const(a - b),
            (s, Size::Const(b)) => s.plus(-b),
            (a, b) => Size::Sub(Box::new(a), Box::new(b)),
        }
    }
    /// `self * k`.
    pub fn times(self, k: i64) -> Size {
        match self {
            _ if k == 1 => self,
            Size::Const(a) => Size::Const(a * k),
            s => Size::Mul(Box::new(s), Box::new(Size::Const(k))),
        }
    }
    /// `self * other`.
    pub fn mul_size(self, other: Size) -> Size {
        match (self, other) {
            (Size::Const(a), Size::Const(b)) => Size::Const(a * b),
            (s, Size::Const(b)) => s.times(b),
            (a, b) => Size::Mul(Box::new(a), Box::new(b)),
        }
    }
    /// `self // k`.
    pub fn floor_div(self, k: i64) -> Size {
        match self {
            _ if k == 1 => self,
            Size::Const(a) => Size::Const(a.div_euclid(k)),
            Size::Mul(a, b) if *b == Size::Const(k) => *a,
            s => Size::FloorDiv(Box::new(s), Box::new(Size::Const(k))),
        }
    }
    /// `ceil(self / k)`.
    pub fn ceil_div(self, k: i64) -> Size {
        match self {
            _ if k == 1 => self,
            Size::Const(a) => Size::Const(-((-a).div_euclid(k))),
            s => Size::CeilDiv(Box::new(s), Box::new(Size::Const(k))),
        }
    }
    /// `max(self, k)`.
    pub fn max(self, k: i64) -> Size {
        match self {
            Size::Const(a) => Size::Const(a.max(k)),
            s => Size::Max(Box::new(s), Box::new(Size::Const(k))),
        }
    }

    /// The known value, if constant.
    pub fn as_const(&self) -> Option<i64> {
        match self {
            Size::Const(c) => Some(*c),
            _ => None,
        }
    }

    /// Evaluates with `N = n` and leading sizes from `lead`. `None` for `...`.
    pub fn eval(&self, n: i64, lead: &dyn Fn(&str) -> Option<i64>) -> Option<i64> {
        let bin = |a: &Size, b: &Size| Some((a.eval(n, lead)?, b.eval(n, lead)?));
        Some(match self {
            Size::Const(c) => *c,
            Size::Samples => n,
            Size::Lead(name) => lead(name)?,
            Size::Ellipsis => return None,
            Size::Add(a, b) => bin(a, b).map(|(x, y)| x.checked_add(y))??,
            Size::Sub(a, b) => bin(a, b).map(|(x, y)| x.checked_sub(y))??,
            Size::Mul(a, b) => bin(a, b).map(|(x, y)| x.checked_mul(y))??,
            Size::FloorDiv(a, b) => {
                let (x, y) = bin(a, b)?;
                if y == 0 {
                    return None;
                }
                x.div_euclid(y)
            }
            Size::CeilDiv(a, b) => {
                let (x, y) = bin(a, b)?;
                if y == 0 {
                    return None;
                }
                -((-x).div_euclid(y))
            }
            Size::Max(a, b) => {
                let (x, y) = bin(a, b)?;
                x.max(y)
            }
        })
    }

    fn prec(&self) -> u8 {
        match self {
            Size::Add(..) | Size::Sub(..) => 1,
            Size::Mul(..) | Size::FloorDiv(..) => 2,
            _ => 3,
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wrap = |s: &Size, p: u8, f: &mut fmt::Formatter<'_>| -> fmt::Result {
            if s.prec() < p {
                write!(f, "({s})")
            } else {
                write!(f, "{s}")
            }
        };
        match self {
            Size::Const(c) => write!(f, "{c}"),
            Size::Samples => f.write_str("N"),
            Size::Lead(n) => match n.as_str() {
                "batch" => f.write_str("B"),
                "channels" => f.write_str("C"),
                other => f.write_str(other),
            },
            Size::Ellipsis => f.write_str("..."),
            Size::Add(a, b) => {
                wrap(a, 1, f)?;
                f.write_str(" + ")?;
                wrap(b, 2, f)
            }
            Size::Sub(a, b) => {
                wrap(a, 1, f)?;
                f.write_str(" - ")?;
                wrap(b, 2, f)
            }
            Size::Mul(a, b) => {
                wrap(a, 2, f)?;
                f.write_str(" * ")?;
                wrap(b, 3, f)
            }
            Size::FloorDiv(a, b) => {
                wrap(a, 2, f)?;
                f.write_str(" // ")?;
                wrap(b, 3, f)
            }
            Size::CeilDiv(a, b) => write!(f, "ceil({a} / {b})"),
            Size::Max(a, b) => write!(f, "max({a}, {b})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn keras_frame_count() {
        let t = Size::Samples.plus(2048).plus(-2048).floor_div(512).plus(1);
        assert_eq!(t.to_string(), "N // 512 + 1");
        assert_eq!(t.eval(160000, &|_| None), Some(313));
        let same = Size::Samples.ceil_div(128);
        assert_eq!(same.eval(1000, &|_| None), Some(8));
    }
}
