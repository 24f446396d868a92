"""Everything that runs beside the chain: arithmetic, preprocessing, engine, network, peer."""
