"""The chain: the only package that imports web3. Artifacts, typed contract clients, deployment, history."""
