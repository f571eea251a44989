//! The `vae-train` section: which routing assigned the perturbation targets to latents (for
//! gCRL-VAE, hard π or the interventional encoder under π's prior, with how often the two agree)
//! and the kept epoch's loss terms.

use super::html::number;
use super::{Html, Outputs, ReportError, Section};

/// The routing and training summary of a `vae-train` node.
pub struct VaeSection;

/// How the targets were assigned, read from the assignment's `via` column.
fn routing_sentence(via: &[String], latent: &[String], pi_latent: &[String]) -> String {
    let n = via.len();
    if via.iter().all(|v| v.starts_with("pi:")) {
        format!(
            "Routing: hard. Each of the {n} targets shifts the latent π(community) of its community (the global \
             latent for a target outside every community); there is no interventional encoder (method.md §7.3(4))."
        )
    } else if via.iter().all(|v| v.starts_with("encoder+prior")) {
        let agree = latent.iter().zip(pi_latent).filter(|(a, b)| a == b).count();
        format!(
            "Routing: prior. The interventional encoder assigns each target, pulled towards π(community) by \
             prior_weight · KL(encoder ‖ π); its choice agrees with π for {agree} of {n} targets."
        )
    } else {
        format!("Routing: the interventional encoder assigns each of the {n} targets (no communities).")
    }
}

impl Section for VaeSection {
    fn kind(&self) -> &'static str {
        "vae-train"
    }
    fn title(&self) -> &'static str {
        "Causal VAE: routing and training"
    }
    fn ports(&self) -> &'static [&'static str] {
        &["assignment", "history"]
    }
    fn render(&self, id: &str, out: &Outputs<'_>, html: &mut Html) -> Result<(), ReportError> {
        let via = out.strs("assignment", "via")?;
        let latent = out.strs("assignment", "latent")?;
        let pi_latent = out.strs("assignment", "pi_latent")?;
        html.para(&routing_sentence(&via, &latent, &pi_latent));
        let kept = out.bools("history", "kept")?;
        let Some(epoch) = kept.iter().position(|&k| k) else {
            html.para("No epoch is marked as kept in the history.");
            return Ok(());
        };
        let terms = ["reconstruction", "matching", "kl", "l1", "align", "prior"];
        let mut row = vec![epoch.to_string()];
        for t in terms {
            row.push(number(out.f64s("history", t)?[epoch]));
        }
        let header: Vec<&str> = std::iter::once("kept epoch").chain(terms).collect();
        html.table(&format!("{id}-kept"), &header, &[row]);
        html.para(&format!(
            "Loss terms of the kept epoch (of {}), unweighted except l1 and prior, which include their weights.",
            kept.len()
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_sentence_names_the_routing_and_counts_agreement_with_pi() {
        let hard = routing_sentence(&strings(&["pi:community_1", "pi:global"]), &strings(&["z_1", "z_3"]), &[]);
        assert!(hard.starts_with("Routing: hard.") && hard.contains("2 targets"), "{hard}");
        let via = strings(&["encoder+prior pi:community_1", "encoder+prior pi:community_2", "encoder+prior pi:global"]);
        let prior = routing_sentence(&via, &strings(&["z_1", "z_3", "z_2"]), &strings(&["z_1", "z_2", "z_2"]));
        assert!(prior.contains("agrees with π for 2 of 3 targets"), "{prior}");
        let encoder = routing_sentence(&strings(&["encoder"]), &strings(&["z_1"]), &strings(&[""]));
        assert!(encoder.contains("interventional encoder assigns each of the 1"), "{encoder}");
    }
}
