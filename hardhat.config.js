// Hardhat 2 for mpcc: `npx hardhat compile` and `npx hardhat node`.
//
// The compiler version and settings come from contracts/compiler.json, the same
// pin the Python toolchain (python -m onchain.compiler) uses, so both emit the
// same bytecode. The compiler itself is the npm package `solc` (solc-js): Hardhat
// is told to use it instead of downloading a build, so compiling works offline.
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");
const pin = require("./contracts/compiler.json");

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== pin.version) {
    return runSuper();
  }
  const solc = require("solc");
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: solc.version().replace(/\.Emscripten\.clang$/, ""),
  };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: { version: pin.version, settings: pin.settings },
  paths: {
    sources: "./contracts",
    tests: "./tests/hardhat",
    cache: "./cache",
    artifacts: "./artifacts-hardhat",
  },
  networks: {
    hardhat: { chainId: 31337, hardfork: "cancun" },
  },
};
