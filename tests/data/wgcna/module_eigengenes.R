#!/usr/bin/env Rscript
# Reference eigengenes from R WGCNA for gcrl's `eigengene` (tests/crosscheck/wgcna.rs).
#
# Builds 40 cells x 12 TFs with four planted modules (A: 5 TFs, B: 4 TFs one of which is
# anti-correlated with the rest, C: 2 TFs, D: a singleton), then runs
# WGCNA::moduleEigengenes once per module assignment and once with every TF in one module (gcrl's
# `global` eigengene). Its arguments spell out the conventions gcrl follows (method.md §5):
# scale = TRUE (z-score every TF, sd with n - 1), nPC = 1 (first right singular vector of the
# scaled TFs x cells matrix), align = "along average" (sign so that it correlates positively with
# the mean of the scaled TFs), excludeGrey = FALSE (no module is dropped).
#
# Writes, with 17 significant digits:
#   expression.csv          cell, then one column per TF (the input)
#   communities.csv         tf, community
#   eigengenes.csv          cell, then ME<community> per community and MEglobal
#   variance_explained.csv  eigengene, variance_explained (WGCNA's varExplained)
#
# Usage: Rscript module_eigengenes.R [out_dir]   (default: the folder of this script)
suppressPackageStartupMessages(library(WGCNA))

args <- commandArgs(trailingOnly = TRUE)
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
out <- if (length(args) >= 1) args[1] else dirname(script)

set.seed(20261202)
n <- 40
sizes <- c(A = 5, B = 4, C = 2, D = 1)
community <- rep(names(sizes), sizes)
tfs <- sprintf("TF%02d", seq_along(community))
cells <- sprintf("cell%02d", seq_len(n))
factors <- sapply(names(sizes), function(m) rnorm(n))
sign <- ifelse(tfs == "TF08", -1, 1)
expr <- sapply(seq_along(tfs), function(j) {
  2 + 0.5 * j / length(tfs) + sign[j] * factors[, community[j]] + 0.7 * rnorm(n)
})
dimnames(expr) <- list(cells, tfs)

eigengenes <- function(colors) {
  moduleEigengenes(expr, colors, nPC = 1, align = "along average", excludeGrey = FALSE, scale = TRUE)
}
modules <- eigengenes(community)
global <- eigengenes(rep("global", length(tfs)))

num <- function(x) sprintf("%.17g", x)
write_table <- function(df, file) {
  write.csv(df, file.path(out, file), row.names = FALSE, quote = FALSE)
}
write_table(data.frame(cell = cells, apply(expr, 2, num), check.names = FALSE), "expression.csv")
write_table(data.frame(tf = tfs, community = community), "communities.csv")
me <- cbind(modules$eigengenes, global$eigengenes)
write_table(data.frame(cell = cells, apply(as.matrix(me), 2, num), check.names = FALSE), "eigengenes.csv")
ve <- unlist(c(modules$varExplained, global$varExplained))
write_table(data.frame(eigengene = colnames(me), variance_explained = num(ve)), "variance_explained.csv")
cat(sprintf("WGCNA %s, R %s: %d cells, %d TFs, %d eigengenes written to %s\n",
            packageVersion("WGCNA"), getRversion(), n, length(tfs), ncol(me), out))
