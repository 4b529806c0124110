//! Closed vocabularies: kinds of firms and of exposures.

use std::fmt;
use std::str::FromStr;

macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used in files and on the command line.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The accepted spellings, comma-separated (for error messages).
            pub fn expected() -> String {
                Self::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            /// Parses the file spelling; case-insensitive, `-` and spaces read as `_`.
            fn from_str(s: &str) -> Result<Self, String> {
                let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
                Self::ALL
                    .iter()
                    .copied()
                    .find(|k| k.as_str() == norm)
                    .ok_or_else(|| format!("expected one of {}, found '{}'", Self::expected(), s))
            }
        }
    };
}

vocabulary! {
    /// What kind of institution a firm is. Used for display and for grouping; models treat
    /// every kind alike except where a document says otherwise.
    FirmKind {
        /// Commercial or investment bank.
        Bank => "bank",
        /// Trading venue holding customer deposits.
        Exchange => "exchange",
        /// Proprietary trading firm or market maker.
        TradingFirm => "trading_firm",
        /// Lending platform or lender.
        Lender => "lender",
        /// Investment fund or hedge fund.
        Fund => "fund",
        /// Venture capital firm.
        Vc => "vc",
        /// Custodian or trust company.
        Custodian => "custodian",
        /// Pool of retail customers treated as one creditor.
        CustomerPool => "customer_pool",
        /// Insurance company.
        Insurer => "insurer",
        /// Stablecoin or token issuer.
        Issuer => "issuer",
        /// Non-financial company.
        Corporate => "corporate",
        /// Anything else.
        Other => "other",
    }
}

vocabulary! {
    /// Kind of claim a creditor holds on a debtor.
    ExposureKind {
        /// Loan (secured or not).
        Loan => "loan",
        /// Funds held by an exchange or bank for the creditor.
        Deposit => "deposit",
        /// Drawn amount of a credit line (an undrawn limit is not an exposure).
        CreditLine => "credit_line",
        /// Bond held by the creditor.
        Bond => "bond",
        /// Net mark-to-market owed on derivatives.
        Derivative => "derivative",
        /// Stake of the creditor in the debtor's equity; junior to all debt.
        Equity => "equity",
    }
}

impl ExposureKind {
    /// True for claims that are debt of the debtor (everything but `equity`).
    pub fn is_debt(self) -> bool {
        self != ExposureKind::Equity
    }
}
