/* Intentionally empty: the declaration in include/ is all this module provides. */
