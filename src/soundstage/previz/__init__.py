"""Pre-production visualisation: shot lists, storyboards, the animatic and the edit timeline."""
