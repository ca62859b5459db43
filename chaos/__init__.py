"""The fault matrix (`make chaos`) and the soak (`make soak`): docs/RELIABILITY.md."""
