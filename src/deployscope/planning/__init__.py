"""The planner's stages, one concern per module, typed values in and out."""
