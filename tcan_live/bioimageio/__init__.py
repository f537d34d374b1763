"""BioImage Model Zoo packages (spec 0.5): engines exported as packages, packages imported."""
