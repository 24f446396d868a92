"""The only package that imports web3: artifacts, deployment, typed contract clients, audit."""
